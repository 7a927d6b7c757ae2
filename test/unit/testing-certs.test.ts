import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { describe, it } from "node:test";
import { CertificateAuthority } from "../../src/testing/certs.js";

describe("test cluster certificates", () => {
  const ca = CertificateAuthority.create("unit-ca");

  it("makes a self-signed CA that Node's X.509 parser accepts", () => {
    const cert = new X509Certificate(ca.pair.certPem);
    assert.equal(cert.ca, true);
    assert.equal(cert.subject, "CN=unit-ca");
    assert.equal(cert.issuer, "CN=unit-ca");
    assert.ok(cert.verify(cert.publicKey));
  });

  it("signs a serving certificate for DNS names and IPv4/IPv6 addresses", () => {
    const pair = ca.issue({
      commonName: "server",
      usage: "server",
      hosts: ["localhost", "127.0.0.1", "::1", "fd00::a:1"],
    });
    const cert = new X509Certificate(pair.certPem);
    assert.equal(cert.ca, false);
    assert.ok(cert.verify(new X509Certificate(ca.pair.certPem).publicKey));
    assert.ok(cert.checkIssued(new X509Certificate(ca.pair.certPem)));
    assert.equal(cert.checkHost("localhost"), "localhost");
    assert.equal(cert.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(cert.checkIP("::1"), "::1");
    assert.equal(cert.checkIP("fd00::a:1"), "fd00::a:1");
    assert.equal(cert.checkIP("10.0.0.9"), undefined);
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  it("puts groups in the subject's organizations of a client certificate", () => {
    const pair = ca.issue({ commonName: "alice", organizations: ["team-a", "system:masters"], usage: "client" });
    const cert = new X509Certificate(pair.certPem);
    assert.equal(cert.subject, "O=team-a\nO=system:masters\nCN=alice");
    assert.deepEqual(cert.keyUsage, ["1.3.6.1.5.5.7.3.2"]);
    assert.ok(new Date(cert.validTo).getTime() > Date.now() + 300 * 86_400_000);
  });

  it("round-trips a CA through PEM", () => {
    const again = CertificateAuthority.load(ca.pair, "unit-ca");
    const cert = new X509Certificate(again.issue({ commonName: "bob", usage: "client" }).certPem);
    assert.ok(cert.checkIssued(new X509Certificate(ca.pair.certPem)));
    assert.ok(cert.verify(new X509Certificate(ca.pair.certPem).publicKey));
  });
});
