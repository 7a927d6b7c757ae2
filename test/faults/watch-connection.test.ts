/**
 * `kindwatch watch` while kube-apiserver goes away and comes back: one line on stderr when the connection is lost (to
 * what, and why) and one when it is back (after how long), however many kinds noticed; what changes afterwards is
 * printed. With -v, the retry messages do not contradict themselves. On HTTP/2 and on HTTP/1.1 (`DISABLE_HTTP2`).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { CliProcess } from "../support/cli.js";
import { configMap, configMapsGvr } from "../support/client.js";
import { faultSuite, protocols } from "../support/faults.js";

const stderrLines = (p: CliProcess) => p.stderr.split("\n").filter((l) => l !== "");
/** The first stderr line that passes `test`, as a value `until` takes for done. */
const lineOf = (p: CliProcess, test: (line: string) => boolean) => {
  const line = stderrLines(p).find(test);
  return line === undefined ? undefined : { line };
};

describe("kindwatch watch while the API server is down", () => {
  const suite = faultSuite("watch-connection");
  const { ns, cleanup } = suite;

  for (const protocol of protocols)
    it(`says once that it lost the connection and why, then that it reconnected, and prints what follows, on ${protocol.name}`, {
      timeout: 120_000,
    }, async () => {
      const { cluster, admin } = suite.env;
      const watch = (extra: string[]) => {
        const p = new CliProcess(["watch", "configmaps,secrets,serviceaccounts", "-n", ns, "-o", "json", ...extra], {
          kubeconfig: cluster.kubeconfigPath,
          timeoutMs: 110_000,
          // An empty DISABLE_HTTP2 leaves HTTP/2 on, whatever the test process's environment says.
          env: { DISABLE_HTTP2: protocol.http2 ? "" : "1" },
        });
        cleanup.defer(async () => {
          if (p.child.exitCode === null) p.child.kill("SIGKILL");
          await p.exited;
        });
        return p;
      };
      const quiet = watch([]);
      const verbose = watch(["-v"]);
      for (const p of [quiet, verbose]) {
        await p.until("three kinds synced", (q) => q.events().filter((e) => e.type === "KIND_SYNCED").length === 3);
      }

      await cluster.stopApiServer("SIGKILL");
      const lostLine = (await quiet.until("the lost line", (p) => lineOf(p, (l) => l.startsWith("lost ")))).line;
      const lost = /^lost the connection to (\S+) \((.+)\); retrying$/.exec(lostLine);
      assert.ok(lost, lostLine);
      assert.equal(lost[1], cluster.server);
      // The watches' own retries, once the transport has tried a few times over: what -v says of them.
      await verbose.until("a retry after the transport's attempts", (p) =>
        lineOf(p, (l) => l.includes("watch failed; retrying") && / attempts\)/.test(l)),
      );

      await cluster.startApiServer();
      const backLine = (
        await quiet.until("the reconnected line", (p) => lineOf(p, (l) => l.startsWith("reconnected ")))
      ).line;
      const back = /^reconnected to (\S+) after (\d+\.\d) s$/.exec(backLine);
      assert.ok(back, backLine);
      assert.equal(back[1], cluster.server);
      assert.ok(Number(back[2]) >= 1, `down for as long as the server took to start (${back[2]} s)`);

      const after = `after-recovery-${protocol.http2 ? "h2" : "h1"}`;
      await admin.client.resource(configMapsGvr).namespace(ns).create(configMap(after));
      await quiet.until("the change made after recovery", (p) =>
        p.events().find((e) => e.type === "ADDED" && e.name === after),
      );
      assert.deepEqual(stderrLines(quiet), [lostLine, backLine], "one line each for three kinds, nothing more");
      assert.deepEqual(
        stderrLines(verbose).filter((l) => l.includes("retrying") && l.includes("gave up")),
        [],
        "no message says it retries what it gave up",
      );
      for (const p of [quiet, verbose]) assert.equal((await p.stop("SIGINT")).code, 130);
    });
});
