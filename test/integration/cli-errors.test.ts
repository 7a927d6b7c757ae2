/**
 * The built `kindwatch` binary's failures, as a user meets them: one line on stderr that says what is wrong and what to
 * check, and the documented exit code (1 for errors, 2 for a wrong command line, 0 for help).
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { freePort } from "../../src/testing/cluster.js";
import { kubeconfigYaml } from "../../src/testing/index.js";
import { runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** The one line a failure prints, checked to be one line. */
function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split("\n");
  assert.equal(lines.length, 1, `expected one line on stderr, got:\n${stderr}`);
  return lines[0] ?? "";
}

describe("kindwatch: errors and exit codes", () => {
  let env: ClientEnv;
  let dir: string;
  let admin: string;
  let crd: CrdSpec;

  before(async () => {
    env = await clientEnv("cli-errors");
    admin = env.cluster.kubeconfigPath;
    dir = await mkdtemp(join(tmpdir(), "kindwatch-cli-errors-"));
    crd = {
      group: `${uniqueName("e")}.kindwatch.dev`,
      kind: "Cogwheel",
      plural: "cogwheels",
      versions: [{ name: "v1", storage: true }],
    };
    await createCrd(env.transport, crd);
    await waitFor("cogwheels to be served", () =>
      env.transport.json({ path: `/apis/${crd.group}/v1/cogwheels` }).then(() => true),
    );
  });

  after(async () => {
    await deleteCrd(env.transport, crd).catch(() => {});
    await env?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("documents its exit codes in --help (exit 0) and answers a wrong command line with exit 2", async () => {
    const help = await runCli(["--help"]);
    assert.equal(help.code, 0);
    for (const text of ["Exit codes:", "0 ", "1 ", "2 ", "130", "143", "watch", "kinds", "get"]) {
      assert.ok(help.stdout.includes(text), `--help lacks ${JSON.stringify(text)}`);
    }
    const version = await runCli(["--version"]);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^kindwatch \d+\.\d+\.\d+\n$/);
    const watchHelp = await runCli(["watch", "--help"]);
    assert.equal(watchHelp.code, 0);
    assert.match(watchHelp.stdout, /--checkpoint FILE/);

    const cases: [string[], RegExp][] = [
      [
        ["frobnicate"],
        /^error: unknown command "frobnicate": use watch, kinds, get, gateway, operator, export or rbac$/,
      ],
      [["get"], /^error: kindwatch get needs a KIND/],
      [["get", "pods", "--counts"], /^error: kindwatch get takes no flag --counts$/],
      [["get", "pods", "--bogus"], /^error: unknown flag --bogus$/],
      [["get", "pods", "-n"], /^error: flag --namespace needs a value$/],
      [["watch", "-o", "wide"], /^error: kindwatch watch cannot print -o wide: use one of json, yaml$/],
      [["get", "pods", "-n", "a", "-A"], /^error: pass either -n\/--namespace or -A\/--all-namespaces, not both$/],
      [["get", "pods", "x", "-A"], /^error: an object cannot be got by name across all namespaces/],
    ];
    for (const [args, message] of cases) {
      const res = await runCli(args, { kubeconfig: admin });
      assert.equal(res.code, 2, `${args.join(" ")}: ${res.stderr}`);
      const [first = "", second = ""] = res.stderr.trimEnd().split("\n");
      assert.match(first, message, args.join(" "));
      assert.match(second, /^Run 'kindwatch (\w+ )?--help' for usage\.$/);
      assert.equal(res.stdout, "");
    }
  });

  it("a malformed, missing or unknown kubeconfig or context: one line naming it, exit 1", async () => {
    const malformed = join(dir, "malformed.kubeconfig");
    await writeFile(malformed, "apiVersion: v1\nclusters: [\n  - nope: {\n");
    for (const res of [
      await runCli(["kinds", "--kubeconfig", malformed]),
      await runCli(["get", "pods"], { kubeconfig: malformed }),
    ]) {
      assert.equal(res.code, 1);
      assert.match(oneLine(res.stderr), new RegExp(`^error: ${malformed} is not valid YAML .*; fix it`));
    }
    const missing = await runCli(["kinds", "--kubeconfig", join(dir, "nope")]);
    assert.equal(missing.code, 1);
    assert.match(oneLine(missing.stderr), /^error: kubeconfig .*nope does not exist; check the path you passed$/);
    const context = await runCli(["kinds", "--context", "elsewhere"], { kubeconfig: admin });
    assert.equal(context.code, 1);
    assert.match(oneLine(context.stderr), /^error: context "elsewhere" is not in .*; pick one of those$/);
  });

  it("an unreachable server (a closed port): 'cannot reach', the URL and what to check, exit 1, for every command", async () => {
    const server = `https://127.0.0.1:${await freePort()}`;
    const path = join(dir, "closed.kubeconfig");
    await writeFile(path, kubeconfigYaml({ server, credentials: env.cluster.admin, userName: "admin" }));
    for (const args of [["kinds"], ["get", "pods"], ["watch"], ["watch", "-o", "json", "cogwheels"]]) {
      const started = performance.now();
      const res = await runCli(args, { kubeconfig: path });
      assert.equal(res.code, 1, `${args.join(" ")}: ${res.stderr}`);
      assert.equal(
        oneLine(res.stderr),
        `error: cannot reach ${server} (connection refused): is the cluster running? check --kubeconfig/--context`,
      );
      assert.ok(performance.now() - started < 10_000, `${args.join(" ")} took ${performance.now() - started} ms`);
    }
  });

  it("credentials the server rejects (401): says so and how to fix it, exit 1", async () => {
    const path = join(dir, "expired.kubeconfig");
    const credentials = { ...(env.cluster.admin.caPem ? { caPem: env.cluster.admin.caPem } : {}), token: "expired" };
    await writeFile(path, kubeconfigYaml({ server: env.cluster.server, credentials, userName: "expired-user" }));
    for (const args of [["kinds"], ["get", "configmaps"], ["watch"]]) {
      const res = await runCli(args, { kubeconfig: path });
      assert.equal(res.code, 1, `${args.join(" ")}: ${res.stderr}`);
      const line = oneLine(res.stderr);
      assert.match(line, /^error: unauthorized: /);
      assert.ok(line.includes(env.cluster.server), line);
      assert.match(line, /bearer token of context "kindwatch-test" in .*expired\.kubeconfig \(401\)/);
      assert.match(line, /expired or invalid: renew them, or check --kubeconfig\/--context$/);
    }
  });

  it("an unknown kind: did you mean, with the kind's full name, exit 1", async () => {
    for (const command of ["get", "watch"]) {
      const res = await runCli([command, "cogwhels"], { kubeconfig: admin });
      assert.equal(res.code, 1, res.stderr);
      assert.equal(oneLine(res.stderr), `error: unknown kind "cogwhels"; did you mean: cogwheels.${crd.group}?`);
    }
    const none = await runCli(["get", "qqqqqqqqqq"], { kubeconfig: admin });
    assert.equal(none.code, 1);
    assert.equal(
      oneLine(none.stderr),
      `error: unknown kind "qqqqqqqqqq"; 'kindwatch kinds' lists the kinds the server serves`,
    );
  });

  it("a kind the user may not read: the server's reason, exit 1, from get and from watch", async () => {
    const user = await env.cluster.user(uniqueName("cli-nobody"));
    const resource = `cogwheels.${crd.group}`;
    for (const args of [
      ["get", resource, "-n", env.namespace],
      ["watch", resource, "-n", env.namespace],
    ]) {
      const res = await runCli(args, { kubeconfig: user.kubeconfigPath });
      assert.equal(res.code, 1, `${args.join(" ")}: ${res.stderr}`);
      assert.equal(
        oneLine(res.stderr),
        `error: ${resource} is forbidden: User "${user.name}" cannot list resource "cogwheels" in API group "${crd.group}" in the namespace "${env.namespace}"`,
      );
    }
  });

  it("colours errors only when asked (not in a pipe), and never with NO_COLOR", async () => {
    const plain = await runCli(["get", "cogwhels"], { kubeconfig: admin });
    assert.match(plain.stderr, /^error: /);
    const forced = await runCli(["get", "cogwhels"], { kubeconfig: admin, env: { FORCE_COLOR: "1" } });
    assert.ok(forced.stderr.startsWith("\x1b[31merror:\x1b[39m "), JSON.stringify(forced.stderr));
    const noColor = await runCli(["get", "cogwhels"], { kubeconfig: admin, env: { FORCE_COLOR: "1", NO_COLOR: "1" } });
    // Node.js 22 and later warn about the two set together (and would let FORCE_COLOR win for its own output).
    const ours = noColor.stderr
      .split("\n")
      .filter((line) => !line.startsWith("(node:") && !line.startsWith("(Use `node"))
      .join("\n");
    assert.match(ours, /^error: /);
    assert.ok(!ours.includes("\x1b["));
  });
});
