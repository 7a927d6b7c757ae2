/**
 * `kindwatch watch -n NS` and `-A` on a cluster with objects in several namespaces: -n shows only that namespace's
 * objects (named kinds and --all-resources alike), -A and no flag show every namespace, and -n with a cluster-scoped
 * kind named is a one-line error rather than a watch that can never show anything.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliProcess, runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv, configMap, configMapsGvr, namespacesGvr } from "../support/client.js";
import { uniqueName } from "../support/wait.js";

type Event = Record<string, unknown>;

describe("kindwatch watch -n and -A", () => {
  let env: ClientEnv;
  let other: string;
  let admin: string;
  const running: CliProcess[] = [];

  /** Each test labels its ConfigMaps with a run of its own, so that no other test's objects count. */
  const make = (run: string, namespace: string, name: string) =>
    env.client
      .resource(configMapsGvr)
      .namespace(namespace)
      .create(configMap(name, { a: "1" }, { run }));
  const watch = (args: string[]) => {
    const p = new CliProcess(["watch", ...args, "-o", "json"], { kubeconfig: admin });
    running.push(p);
    return p;
  };
  const seen = (p: CliProcess) =>
    (p.events() as Event[])
      .filter((e) => e.type === "ADDED" && e.kind === "ConfigMap")
      .map((e) => `${e.namespace}/${e.name}`)
      .sort();

  before(async () => {
    env = await clientEnv("cli-watch-ns");
    admin = env.cluster.kubeconfigPath;
    other = uniqueName("cli-watch-ns-other");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: other } });
  });

  after(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    await env?.client
      .resource(namespacesGvr)
      .delete(other)
      .catch(() => {});
    await env?.close();
  });

  it("-n shows only that namespace's objects, initial and live", async () => {
    const run = uniqueName("run");
    await make(run, env.namespace, "mine-before");
    await make(run, other, "theirs-before");
    const named = watch(["configmaps", "-n", env.namespace, "-l", `run=${run}`]);
    const all = watch(["--all-resources", "-n", env.namespace, "-l", `run=${run}`]);
    for (const p of [named, all]) {
      await p.until("the initial object", (q) => seen(q).includes(`${env.namespace}/mine-before`));
    }
    await make(run, other, "theirs-live");
    await make(run, env.namespace, "mine-live");
    for (const p of [named, all]) {
      await p.until("the live object", (q) => seen(q).includes(`${env.namespace}/mine-live`));
      // The other namespace's live object was made first: had it been watched, it would have come before this one.
      assert.deepEqual(seen(p), [`${env.namespace}/mine-before`, `${env.namespace}/mine-live`]);
      assert.equal((await p.stop("SIGINT")).code, 130);
    }
  });

  it("-A, like no flag, shows every namespace", async () => {
    const run = uniqueName("run");
    const made = [`${env.namespace}/mine-any`, `${other}/theirs-any`];
    await make(run, env.namespace, "mine-any");
    await make(run, other, "theirs-any");
    for (const flags of [["-A"], []]) {
      const how = flags.join(" ") || "no flag";
      const p = watch(["configmaps", ...flags, "-l", `run=${run}`]);
      await p.until(`every namespace's initial objects with ${how}`, (q) => made.every((m) => seen(q).includes(m)));
      const live = `live-${flags.length}`;
      await make(run, other, live);
      made.push(`${other}/${live}`);
      await p.until(`the live object in the other namespace with ${how}`, (q) => seen(q).includes(`${other}/${live}`));
      assert.deepEqual(seen(p), [...made].sort());
      assert.equal((await p.stop("SIGINT")).code, 130);
    }
  });

  it("-n with a cluster-scoped kind named is an error that says what to do", async () => {
    const res = await runCli(["watch", "namespaces", "-n", env.namespace], { kubeconfig: admin });
    assert.equal(res.code, 1, res.stderr);
    assert.match(res.stderr, /namespaces is cluster-scoped: -n\/--namespace does not apply to it; watch it without -n/);
    assert.equal(res.stderr.trimEnd().split("\n").length, 1, res.stderr);
  });
});
