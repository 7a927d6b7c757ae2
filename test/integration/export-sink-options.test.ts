/**
 * `kindwatch export --sink-option NAME=VALUE`: the options reach the sink (an HTTP receiver gets the content mode and
 * headers asked for), and misuse (a malformed option, an option the scheme does not take, credentials in the URL)
 * fails at once with one line, before anything is exported.
 */
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { CeReceiver } from "../support/ce-receiver.js";
import { CliProcess, runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { processTempDir } from "../support/tempdir.js";
import { simpleCrd, uniqueGroup } from "../support/watchall.js";

describe("kindwatch export --sink-option", () => {
  let env: ClientEnv;
  let receiver: CeReceiver;
  const spec: CrdSpec = simpleCrd(uniqueGroup("exopt"), "Knob");
  const dir = processTempDir("export-sink-options");

  before(async () => {
    env = await clientEnv("export-sink-options");
    await createCrd(env.transport, spec);
    receiver = await CeReceiver.start();
  });
  after(async () => {
    await receiver.close();
    await deleteCrd(env.transport, spec);
    await env.close();
  });

  it("refuses misuse in one line, with the exit code of a usage or a configuration error", async () => {
    const checkpoint = `${dir}/refused.json`;
    const kubeconfig = env.cluster.kubeconfigPath;
    const cases: [string[], number, string][] = [
      [
        ["--sink", receiver.url, "--sink-option", "batch"],
        2,
        "error: --sink-option batch: use NAME=VALUE, e.g. mode=batch",
      ],
      [
        ["--sink", receiver.url, "--sink-option", "stream=S"],
        1,
        "error: sink " +
          receiver.url +
          ": http takes no option stream (--sink-option); it takes mode, batch, headers-file, bearer-token-file, ca-file, cert-file, key-file, insecure-skip-verify, timeout-ms",
      ],
      [
        ["--sink", "http://me:pw@127.0.0.1:1/x"],
        1,
        "error: sink http://…: credentials do not go in the URL (it is logged): use --sink-option headers-file=PATH",
      ],
    ];
    for (const [args, code, line] of cases) {
      const result = await runCli(["export", ...args, "--checkpoint", checkpoint], { kubeconfig });
      assert.equal(result.code, code, `${args.join(" ")}: ${result.stderr}`);
      assert.equal(result.stderr.split("\n")[0], line);
      assert.doesNotMatch(result.stderr, /pw/, "the password is never shown");
    }
  });

  it("hands the options to the sink: an HTTP receiver gets the mode and the headers file's headers", async () => {
    const headers = `${dir}/headers`;
    await writeFile(headers, "X-Api-Key: k3y\n");
    receiver.authorize((h) => h["x-api-key"] === "k3y");
    const knobs = env.client.resource({ group: spec.group, version: "v1", resource: "knobs" }).namespace(env.namespace);
    await knobs.create({ apiVersion: `${spec.group}/v1`, kind: "Knob", metadata: { name: "k1" } });
    const p = new CliProcess(
      [
        "export",
        ...["--sink", receiver.url, "--sink-option", "mode=structured", "--sink-option", `headers-file=${headers}`],
        ...["--checkpoint", `${dir}/cp.json`, "--kinds", `knobs.${spec.group}`],
      ],
      { kubeconfig: env.cluster.kubeconfigPath },
    );
    try {
      await receiver.waitForEvents(3);
      // Only this export sends to the receiver (the refused runs never reach it).
      assert.ok(receiver.requests.length >= 3, "requests received");
      for (const r of receiver.requests) {
        assert.equal(r.mode, "structured");
        assert.equal(r.answer, 200);
      }
      assert.ok(
        receiver.events.some((e) => e.type === "dev.kindwatch.object.added" && e.subject === `${env.namespace}/k1`),
        "the object arrived",
      );
    } finally {
      const result = await p.stop("SIGTERM");
      assert.equal(result.code, 143, result.stderr);
    }
  });
});
