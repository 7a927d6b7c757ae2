/**
 * `kindwatch operator` as a user runs it: one line and exit code 2 for a bad command line, 1 for an unreadable token
 * file; a gateway that is not up yet is no failure: the operator serves its probes, and routes go live once it is.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliProcess, runCli } from "../support/cli.js";
import { call, GatewayProcess } from "../support/gateway.js";
import { OperatorPlane } from "../support/operator-plane.js";
import { processTempDir } from "../support/tempdir.js";
import { waitFor } from "../support/wait.js";

/** A loopback port nothing listens on (for now). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe("kindwatch operator: the command", () => {
  let tokenFile: string;
  const token = "operator-cli-token";

  before(() => {
    tokenFile = join(processTempDir("kindwatch-operator-cli"), "token");
    writeFileSync(tokenFile, `${token}\n`);
  });

  it("refuses a bad command line with one line and exit code 2", { timeout: 60_000 }, async () => {
    const url = ["--gateway-admin-url", "http://127.0.0.1:1"];
    const file = ["--gateway-token-file", tokenFile];
    const cases: [string[], RegExp][] = [
      [file, /^error: kindwatch operator needs --gateway-admin-url URL$/],
      [url, /^error: kindwatch operator needs --gateway-token-file FILE$/],
      [["--gateway-admin-url", "gateway:8081", ...file], /--gateway-admin-url "gateway:8081" is not an http\(s\) URL/],
      [[...url, ...file, "--metrics-listen", "8080"], /--metrics-listen "8080" is not HOST:PORT/],
      [
        [...url, ...file, "--service-url-template", "{name}"],
        /--service-url-template "\{name\}" makes no http\(s\) URL/,
      ],
      [[...url, ...file, "--lease-namespace", "x"], /--lease-namespace needs --leader-elect/],
      [[...url, ...file, "--lease-duration", "4s"], /--lease-duration needs --leader-elect/],
      [[...url, ...file, "--leader-elect", "--lease-duration", "4"], /--lease-duration "4" is not a duration/],
      [[...url, ...file, "--leader-elect", "--lease-duration", "2500ms"], /--lease-duration must be whole seconds/],
      [
        [...url, ...file, "--leader-elect", "--lease-duration", "4s"],
        /--renew-deadline \(10000 ms\) must be below --lease-duration \(4000 ms\)/,
      ],
      [
        [...url, ...file, "--leader-elect", "--renew-deadline", "1s", "--retry-period", "1s"],
        /--renew-deadline \(1000 ms\) must exceed 1.2 x --retry-period \(1000 ms\)/,
      ],
      [[...url, ...file, "--listen", "x"], /kindwatch operator takes no flag --listen/],
      [[...url, ...file, "extra"], /kindwatch operator takes no argument "extra"/],
    ];
    // All at once: each is a process start, and there are a dozen.
    const results = await Promise.all(cases.map(([args]) => runCli(["operator", ...args])));
    for (const [i, [, message]] of cases.entries()) {
      const result = results[i] as Awaited<ReturnType<typeof runCli>>;
      assert.equal(result.code, 2, result.stderr);
      assert.match(result.stderr.split("\n")[0] ?? "", message);
      assert.match(result.stderr.split("\n")[1] ?? "", /^Run 'kindwatch operator --help' for usage\.$/);
    }
  });

  it("fails with one line and exit code 1 on an unreadable token file", { timeout: 20_000 }, async () => {
    const result = await runCli([
      "operator",
      "--gateway-admin-url",
      "http://127.0.0.1:1",
      "--gateway-token-file",
      "/nonexistent/token",
    ]);
    assert.equal(result.code, 1);
    assert.equal(result.stderr.trimEnd(), "error: cannot read --gateway-token-file /nonexistent/token: ENOENT");
  });

  it("documents its flags in --help", async () => {
    const result = await runCli(["operator", "--help"]);
    assert.equal(result.code, 0);
    for (const flag of [
      "--gateway-admin-url",
      "--gateway-token-file",
      "--leader-elect",
      "--lease-duration",
      "--renew-deadline",
      "--retry-period",
      "--service-url-template",
    ]) {
      assert.match(result.stdout, new RegExp(flag));
    }
  });

  describe("running", () => {
    let plane: OperatorPlane;
    let operator: CliProcess | undefined;
    let gateway: GatewayProcess | undefined;

    before(async () => {
      plane = await OperatorPlane.create("op-cli");
    });

    after(async () => {
      if (operator && operator.child.exitCode === null) await operator.stop("SIGTERM");
      await gateway?.stop();
      await plane?.close();
    });

    it("starts without its gateway, serves probes, and makes routes live once the gateway is up", {
      timeout: 90_000,
    }, async () => {
      const adminPort = await freePort();
      operator = new CliProcess(
        [
          "operator",
          "--kubeconfig",
          plane.env.cluster.kubeconfigPath,
          "--namespace",
          plane.namespace,
          "--gateway-admin-url",
          `http://127.0.0.1:${adminPort}`,
          "--gateway-token-file",
          tokenFile,
          "--metrics-listen",
          "127.0.0.1:0",
          "--service-url-template",
          plane.upstream.url,
          "--leader-elect",
        ],
        { timeoutMs: 120_000 },
      );
      const found = await operator.until(
        "the operator to start",
        (p) => /metrics and probes on (http:\/\/\S+)/.exec(p.stderr) ?? undefined,
      );
      const probes = found[1] as string;
      await waitFor("/readyz", async () => (await call(`${probes}/readyz`)).status === 200);
      assert.equal((await call(`${probes}/healthz`)).status, 200);
      await waitFor("the operator to lead", async () =>
        /leader_election_master_status\{name="kindwatch-operator"\} 1/.test((await call(`${probes}/metrics`)).text),
      );
      await plane.create("bindings", "late", {
        target: { url: plane.upstream.url },
        provider: "openai",
        routes: [{ path: "/late" }],
      });
      await plane.degraded("bindings", "late", "GatewayUnavailable");
      assert.equal(operator.child.exitCode, null, "an unreachable gateway is not fatal");

      gateway = await GatewayProcess.start({ adminListen: `127.0.0.1:${adminPort}` }, token);
      await plane.ready("bindings", "late", 20_000);
      const answer = await gateway.call("/late/v1/chat/completions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      });
      assert.equal(answer.status, 200, answer.text);

      // The binding may have gone live through its retry before the monitor's next poll saw the gateway.
      await operator.until("the monitor to see the gateway", (p) => p.stderr.includes("gateway restarted: applying"));
      const stopped = await operator.stop("SIGTERM");
      assert.equal(stopped.code, 143, stopped.stderr);
      // The log is JSON lines: the outage is in it once, however many polls failed.
      const lines = stopped.stderr.split("\n").filter((l) => l.startsWith("{"));
      assert.equal(lines.filter((l) => l.includes('"msg":"gateway unreachable, still trying"')).length, 1);
    });
  });
});
