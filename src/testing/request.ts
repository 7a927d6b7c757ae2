/**
 * The harness's own minimal HTTPS client: enough to wait for readiness and mint users. The library's client is not used
 * here so that the harness that tests it does not depend on it.
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

/** How the harness authenticates: a client certificate or a bearer token, and the CA to trust. */
export interface Credentials {
  readonly caPem?: string | undefined;
  readonly certPem?: string | undefined;
  readonly keyPem?: string | undefined;
  readonly token?: string | undefined;
}

/** A response with its body read and, where it is JSON, parsed. */
export interface SimpleResponse {
  readonly status: number;
  readonly text: string;
  readonly json: unknown;
}

/** Sends one request and reads the whole response. Never throws for HTTP statuses, only for network errors. */
export function simpleRequest(
  url: string,
  options: {
    method?: string | undefined;
    body?: unknown;
    credentials?: Credentials | undefined;
    timeoutMs?: number | undefined;
    contentType?: string | undefined;
  } = {},
): Promise<SimpleResponse> {
  const target = new URL(url);
  const creds = options.credentials ?? {};
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers: Record<string, string> = { accept: "application/json" };
  if (creds.token) headers.authorization = `Bearer ${creds.token}`;
  if (payload !== undefined) {
    headers["content-type"] = options.contentType ?? "application/json";
    headers["content-length"] = String(Buffer.byteLength(payload));
  }
  const send = target.protocol === "https:" ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? "GET",
        headers,
        ca: creds.caPem || undefined,
        ...(creds.certPem ? { cert: creds.certPem, key: creds.keyPem } : {}),
        timeout: options.timeoutMs ?? 10_000,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("error", reject);
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, text, json });
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`request to ${url} timed out`)));
    req.on("error", reject);
    req.end(payload);
  });
}
