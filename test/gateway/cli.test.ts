/**
 * `kindwatch gateway` as a user runs it: one clear line and a non-zero exit for a bad flag, a missing or unreadable
 * token file or a port in use; on SIGTERM it stops accepting and lets a request in flight finish.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client, request } from "undici";
import { runCli } from "../support/cli.js";
import { call, GatewayProcess, source } from "../support/gateway.js";
import { OpenAIUpstream } from "../support/openai-upstream.js";
import { processTempDir } from "../support/tempdir.js";
import { waitFor } from "../support/wait.js";

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0] ?? "";
}

describe("kindwatch gateway: the command", () => {
  let tokenFile: string;
  let up: OpenAIUpstream;

  before(async () => {
    tokenFile = join(processTempDir("kindwatch-gateway-cli"), "token");
    writeFileSync(tokenFile, "secret\n");
    up = await OpenAIUpstream.start("up");
  });

  after(async () => {
    await up?.stop();
  });

  const local = ["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0"];

  it("refuses a bad command line with one line and exit code 2", { timeout: 20_000 }, async () => {
    const cases: [string[], RegExp][] = [
      [
        [...local],
        /^error: kindwatch gateway needs --admin-token-file FILE, --admin-token-secret NAMESPACE\/NAME\[:KEY\] or --admin-client-ca FILE$/,
      ],
      [
        [...local, "--admin-token-file", tokenFile, "--admin-token-secret", "ns/name"],
        /--admin-token-file and --admin-token-secret exclude each other/,
      ],
      [
        [...local, "--admin-token-secret", "name-only"],
        /--admin-token-secret "name-only" is not NAMESPACE\/NAME\[:KEY\]/,
      ],
      [
        [...local, "--admin-tls-cert", tokenFile, "--admin-token-file", tokenFile],
        /--admin-tls-cert and --admin-tls-key go together/,
      ],
      [[...local, "--admin-client-ca", tokenFile], /--admin-client-ca needs --admin-tls-cert and --admin-tls-key/],
      [
        [...local, "--admin-token-file", tokenFile, "--max-body-bytes", "1k"],
        /--max-body-bytes "1k" is not a positive/,
      ],
      [["--listen", "8080", "--admin-token-file", tokenFile], /--listen "8080" is not HOST:PORT/],
      [[...local, "--admin-token-file", tokenFile, "--namespace", "x"], /kindwatch gateway takes no flag --namespace/],
    ];
    for (const [args, message] of cases) {
      const result = await runCli(["gateway", ...args]);
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.split("\n")[0] ?? "", message);
    }
  });

  it("fails with one line and exit code 1 on an unreadable token file", { timeout: 20_000 }, async () => {
    const result = await runCli(["gateway", ...local, "--admin-token-file", "/nonexistent/token"]);
    assert.equal(result.code, 1);
    assert.equal(oneLine(result.stderr), "error: cannot read --admin-token-file /nonexistent/token: ENOENT");
  });

  it("fails with one line and exit code 1 when its port is in use", { timeout: 20_000 }, async () => {
    const running = await GatewayProcess.start();
    try {
      const taken = new URL(running.url).host;
      const result = await runCli([
        "gateway",
        "--listen",
        taken,
        "--admin-listen",
        "127.0.0.1:0",
        "--admin-token-file",
        tokenFile,
      ]);
      assert.equal(result.code, 1);
      assert.equal(oneLine(result.stderr), `error: cannot listen on ${taken} (--listen): the address is in use`);
    } finally {
      await running.stop();
    }
  });

  it("on SIGTERM stops accepting, closes kept-alive connections, and lets requests in flight finish", {
    timeout: 20_000,
  }, async () => {
    const gw = await GatewayProcess.start();
    await gw.put("routes", {
      name: "r",
      source: source(),
      match: { pathPrefix: "/" },
      upstreams: [{ url: up.url, kind: "openai" }],
    });
    const release = up.holdAfterFirstChunk();
    const stream = await request(`${gw.url}/v1/chat/completions`, {
      method: "POST",
      body: JSON.stringify({ model: "m", stream: true, messages: [] }),
    });
    const reader = stream.body[Symbol.asyncIterator]();
    await reader.next();
    // A second request, on a connection of its own, whose head comes after the signal.
    const client = new Client(gw.url);
    up.fail({ kind: "delay", ms: 1500 }, 1);
    const seen = up.requests.length;
    const slow = client.request({ method: "GET", path: "/slow" });
    await waitFor("the upstream to get the slow request", () => up.requests.length > seen);
    gw.cli.child.kill("SIGTERM");
    const answer = await slow;
    assert.equal(answer.statusCode, 200);
    assert.equal(answer.headers.connection, "close");
    await answer.body.text();
    await client.close();
    // Connections pooled or queued while it closes may be reset first; then new ones are refused.
    await waitFor("the gateway to refuse connections", () =>
      call(`${gw.url}/healthz`).then(
        () => false,
        (err: NodeJS.ErrnoException) => err.code === "ECONNREFUSED",
      ),
    );
    release();
    let rest = "";
    for (let r = await reader.next(); !r.done; r = await reader.next()) rest += String(r.value);
    assert.match(rest, /data: \[DONE\]\n\n$/);
    const result = await gw.cli.exited;
    assert.equal(result.code, 143, result.stderr);
  });
});
