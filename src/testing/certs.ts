/**
 * Just enough X.509 to run a test cluster: a CA, a serving certificate and client certificates, all ECDSA P-256,
 * signed by Node's own crypto. The DER is assembled here because the libraries that do it either need a global
 * `Reflect` polyfill, do RSA in pure JavaScript, or shell out to an `openssl` whose flags differ between platforms.
 */
import { createPrivateKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { isIP } from "node:net";

/** A certificate and its private key, both PEM. */
export interface KeyPair {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a new certificate is for and who it names. */
export interface CertificateRequest {
  readonly commonName: string;
  /** Subject organizations; Kubernetes reads them as the user's groups. */
  readonly organizations?: readonly string[] | undefined;
  /** DNS names and IP addresses the certificate is valid for (serving certificates). */
  readonly hosts?: readonly string[] | undefined;
  readonly usage: "ca" | "server" | "client";
  readonly validDays?: number | undefined;
}

// Tag bytes of the DER types used below.
const INTEGER = 0x02;
const BIT_STRING = 0x03;
const OCTET_STRING = 0x04;
const OID = 0x06;
const UTF8_STRING = 0x0c;
const SEQUENCE = 0x30;
const SET = 0x31;
const GENERALIZED_TIME = 0x18;
const BOOLEAN = 0x01;

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

function oid(dotted: string): Buffer {
  const parts = dotted.split(".").map(Number);
  const [first = 0, second = 0, ...rest] = parts;
  const bytes = [first * 40 + second];
  for (const part of rest) {
    const chunk: number[] = [];
    for (let v = part; ; v = Math.floor(v / 128)) {
      chunk.unshift((v % 128) | (chunk.length ? 0x80 : 0));
      if (v < 128) break;
    }
    bytes.push(...chunk);
  }
  return tlv(OID, Buffer.from(bytes));
}

function positiveInteger(raw: Buffer): Buffer {
  // DER integers are signed: a leading 1 bit needs a zero byte in front to stay positive.
  return tlv(INTEGER, (raw[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), raw]) : raw);
}

function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14);
  return tlv(GENERALIZED_TIME, Buffer.from(`${iso}Z`, "ascii"));
}

function name(commonName: string, organizations: readonly string[]): Buffer {
  const rdn = (type: string, value: string) =>
    tlv(SET, tlv(SEQUENCE, oid(type), tlv(UTF8_STRING, Buffer.from(value, "utf8"))));
  return tlv(SEQUENCE, ...organizations.map((o) => rdn("2.5.4.10", o)), rdn("2.5.4.3", commonName));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  const flag = critical ? [tlv(BOOLEAN, Buffer.from([0xff]))] : [];
  return tlv(SEQUENCE, oid(id), ...flag, tlv(OCTET_STRING, value));
}

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  const [head = "", tail = ""] = ip.split("::");
  const groups = (s: string) => (s ? s.split(":") : []);
  const h = groups(head);
  const t = groups(tail);
  const all = ip.includes("::") ? [...h, ...Array(8 - h.length - t.length).fill("0"), ...t] : h;
  return Buffer.from(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

function extensions(req: CertificateRequest): Buffer {
  const keyCertSign = 0x04;
  const digitalSignature = 0x80;
  const keyEncipherment = 0x20;
  const list: Buffer[] = [];
  if (req.usage === "ca") {
    list.push(extension("2.5.29.19", true, tlv(SEQUENCE, tlv(BOOLEAN, Buffer.from([0xff])))));
    list.push(extension("2.5.29.15", true, tlv(BIT_STRING, Buffer.from([0x02, keyCertSign | digitalSignature]))));
  } else {
    list.push(extension("2.5.29.19", true, tlv(SEQUENCE)));
    list.push(extension("2.5.29.15", true, tlv(BIT_STRING, Buffer.from([0x05, digitalSignature | keyEncipherment]))));
    const usage = req.usage === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2";
    list.push(extension("2.5.29.37", false, tlv(SEQUENCE, oid(usage))));
  }
  const hosts = req.hosts ?? [];
  if (hosts.length > 0) {
    const names = hosts.map((h) => (isIP(h) ? tlv(0x87, ipBytes(h)) : tlv(0x82, Buffer.from(h, "ascii"))));
    list.push(extension("2.5.29.17", false, tlv(SEQUENCE, ...names)));
  }
  return tlv(0xa3, tlv(SEQUENCE, ...list));
}

const ecdsaWithSha256 = tlv(SEQUENCE, oid("1.2.840.10045.4.3.2"));

function pem(label: string, der: Buffer): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

function newKey(): { privateKey: KeyObject; publicKey: KeyObject } {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" });
}

function issue(req: CertificateRequest, subjectKey: KeyObject, issuer: { name: Buffer; key: KeyObject }): string {
  const subject = name(req.commonName, req.organizations ?? []);
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + (req.validDays ?? 365) * 86_400_000);
  const serial = randomBytes(16);
  // Positive and without a leading zero byte, which DER forbids: the first byte is in 0x40..0x7f.
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  const tbs = tlv(
    SEQUENCE,
    tlv(0xa0, tlv(INTEGER, Buffer.from([2]))),
    positiveInteger(serial),
    ecdsaWithSha256,
    issuer.name,
    tlv(SEQUENCE, time(notBefore), time(notAfter)),
    subject,
    subjectKey.export({ type: "spki", format: "der" }),
    extensions(req),
  );
  const signature = sign("sha256", tbs, issuer.key);
  const cert = tlv(SEQUENCE, tbs, ecdsaWithSha256, tlv(BIT_STRING, Buffer.concat([Buffer.from([0]), signature])));
  return pem("CERTIFICATE", cert);
}

/** A certificate authority that can sign serving and client certificates. */
export class CertificateAuthority {
  /** The CA's own certificate and key. */
  readonly pair: KeyPair;
  readonly #key: KeyObject;
  readonly #name: Buffer;

  private constructor(pair: KeyPair, key: KeyObject, subject: Buffer) {
    this.pair = pair;
    this.#key = key;
    this.#name = subject;
  }

  /** Makes a new self-signed CA. */
  static create(commonName = "kindwatch-test-ca", validDays = 365): CertificateAuthority {
    const { privateKey, publicKey } = newKey();
    const req: CertificateRequest = { commonName, usage: "ca", validDays };
    const subject = name(commonName, []);
    const certPem = issue(req, publicKey, { name: subject, key: privateKey });
    const keyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    return new CertificateAuthority({ certPem, keyPem }, privateKey, subject);
  }

  /** Loads a CA made earlier by {@link CertificateAuthority.create}. */
  static load(pair: KeyPair, commonName = "kindwatch-test-ca"): CertificateAuthority {
    return new CertificateAuthority(pair, createPrivateKey(pair.keyPem), name(commonName, []));
  }

  /** Issues a certificate with a fresh key signed by this CA. */
  issue(req: CertificateRequest): KeyPair {
    const { privateKey, publicKey } = newKey();
    const certPem = issue(req, publicKey, { name: this.#name, key: this.#key });
    return { certPem, keyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString() };
  }
}

/** A new key pair for signing service-account tokens, as PEM. */
export function serviceAccountKeys(): { privatePem: string; publicPem: string } {
  const { privateKey, publicKey } = newKey();
  return {
    privatePem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
    publicPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}
