/**
 * `kindwatch export` as a user runs it: wrong command lines and sinks fail with one line and the documented exit
 * code; a working export writes CloudEvents to stdout and serves its metrics.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliProcess, runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { processTempDir } from "../support/tempdir.js";
import { simpleCrd, uniqueGroup } from "../support/watchall.js";

/** The one error line a failure prints (after the notice of a started export, if it started), checked to be one. */
function errorLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  const errors = lines.filter((l) => !l.startsWith("exporting to "));
  assert.equal(errors.length, 1, `expected one error line on stderr, got:\n${stderr}`);
  return errors[0] ?? "";
}

describe("kindwatch export: the command line", () => {
  let env: ClientEnv;
  let kubeconfig: string;
  const spec: CrdSpec = simpleCrd(uniqueGroup("excli"), "Lever");

  before(async () => {
    env = await clientEnv("export-cli");
    kubeconfig = env.cluster.kubeconfigPath;
    await createCrd(env.transport, spec);
  });
  after(async () => {
    await deleteCrd(env.transport, spec);
    await env.close();
  });

  it("refuses wrong command lines and sinks with one line", async () => {
    const checkpoint = `${processTempDir("export-cli")}/cp.json`;
    const cases: [string[], number, RegExp][] = [
      [["export", "--checkpoint", checkpoint], 2, /needs --sink URL/],
      [["export", "--sink", "-"], 2, /needs --checkpoint FILE/],
      [["export", "--sink", "-", "--checkpoint", checkpoint, "--data", "yaml"], 2, /--data "yaml": use object/],
      [["export", "--sink", "-", "--checkpoint", checkpoint, "--metrics-listen", "nope"], 2, /is not HOST:PORT/],
      [["export", "--sink", "gopher://x", "--checkpoint", checkpoint], 1, /no sink for gopher:\/\//],
      [["export", "--sink", "file:///nonexistent/dir/e.ndjson", "--checkpoint", checkpoint], 1, /cannot open/],
    ];
    for (const [args, code, message] of cases) {
      const result = await runCli(args, { kubeconfig });
      assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      // A wrong command line adds the line that points at the help.
      const first = code === 2 ? (result.stderr.split("\n")[0] ?? "") : errorLine(result.stderr);
      assert.match(first, message, args.join(" "));
    }
  });

  it("writes CloudEvents to stdout with - and serves /metrics", async () => {
    const checkpoint = `${processTempDir("export-cli")}/stdout.json`;
    await env.client
      .resource({ group: spec.group, version: "v1", resource: "levers" })
      .namespace(env.namespace)
      .create({ apiVersion: `${spec.group}/v1`, kind: "Lever", metadata: { name: "l1" }, spec: { n: 1 } });
    const args = ["export", "--sink", "-", "--checkpoint", checkpoint, "--kinds", `levers.${spec.group}`];
    const cli = new CliProcess([...args, "--cluster-name", "test", "--metrics-listen", "127.0.0.1:0"], { kubeconfig });
    try {
      const event = await cli.until("l1's event", (p) =>
        p.events().find((e) => e.subject === `${env.namespace}/l1` && e.type === "dev.kindwatch.object.added"),
      );
      assert.equal(event.source, `kindwatch://test/apis/${spec.group}/v1/namespaces/${env.namespace}/levers`);
      assert.equal(event.kworigin, "initial");
      const url = await cli.until(
        "the metrics address",
        (p) => /metrics on (http:\/\/\S+)/.exec(p.stderr) ?? undefined,
      );
      const text = await (await fetch(`${url[1]}/metrics`)).text();
      assert.match(text, /kindwatch_export_events_delivered_total\{sink="file stdout"\} [1-9]/);
      assert.match(text, /kindwatch_export_lag_seconds_bucket/);
    } finally {
      const result = await cli.stop("SIGTERM");
      assert.equal(result.code, 143, result.stderr);
    }
  });
});
