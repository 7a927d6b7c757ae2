/**
 * `kindwatch watch` as a process: objects kubectl makes show up in its JSON lines and human lines with the fields that
 * changed; it resumes from a checkpoint; kinds that cannot be read are reported; and SIGINT, SIGTERM and a closed
 * pipe end it promptly with the documented exit codes.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CliProcess } from "../support/cli.js";
import { type ClientEnv, clientEnv, createWidgetCrd, type WidgetKind } from "../support/client.js";
import { kubectl } from "../support/kubectl.js";
import { TcpProxy } from "../support/proxy.js";
import { grantClusterRole, revokeClusterRole } from "../support/rbac.js";
import { uniqueName, waitFor } from "../support/wait.js";

type Event = Record<string, unknown> & { object?: { metadata?: Record<string, unknown>; spec?: unknown } };

/** Stop within this after a signal, with the checkpoint saved. */
const promptMs = 2000;

describe("kindwatch watch", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let admin: string;
  let widgets: string;
  let dir: string;
  /** A slow network to the cluster: every answer held back 300 ms, so that the initial sync takes seconds. */
  let slow: TcpProxy;
  let slowKubeconfig: string;
  const running: CliProcess[] = [];
  const cleanups: (() => Promise<void>)[] = [];

  const k = (args: string[], input?: string) =>
    kubectl(admin, ["-n", env.namespace, ...args], input === undefined ? {} : { input });
  const widget = (name: string, spec: string, labels = "{}") =>
    `apiVersion: ${kind.apiVersion}\nkind: Widget\nmetadata: {name: ${name}, labels: ${labels}}\nspec: ${spec}\n`;
  const watch = (args: string[], kubeconfig = admin) => {
    const p = new CliProcess(["watch", ...args], { kubeconfig });
    running.push(p);
    return p;
  };
  const events = (p: CliProcess): Event[] => p.events() as Event[];
  const find = (p: CliProcess, test: (e: Event) => boolean) => events(p).find(test);
  const synced = (p: CliProcess) => find(p, (e) => e.type === "KIND_SYNCED" && e.group === kind.group);
  const grant = (name: string, subject: unknown, rules: unknown[]) =>
    grantClusterRole(env.client, name, subject, rules);

  before(async () => {
    env = await clientEnv("cli-watch");
    admin = env.cluster.kubeconfigPath;
    kind = await createWidgetCrd(env.client);
    widgets = `widgets.${kind.group}`;
    dir = await mkdtemp(join(tmpdir(), "kindwatch-cli-watch-"));
    await k(["create", "-f", "-"], widget("before", "{replicas: 1}"));
    slow = await TcpProxy.start(env.cluster.server);
    slow.latencyMs = 300;
    slowKubeconfig = join(dir, "slow.kubeconfig");
    const text = await readFile(admin, "utf8");
    await writeFile(slowKubeconfig, text.replaceAll(env.cluster.server, slow.url), { mode: 0o600 });
  });

  after(async () => {
    for (const p of running) if (p.child.exitCode === null) p.child.kill("SIGKILL");
    for (const step of cleanups) await step();
    await slow?.close();
    await kind?.remove();
    await env?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("shows what kubectl does, with the changed fields, as JSON lines and as human lines; SIGINT ends it with 130", async () => {
    const json = watch([widgets, "-n", env.namespace, "-o", "json"]);
    const human = watch([widgets, "-n", env.namespace]);
    await json.until("the kind to sync", synced);
    const initial = await json.until("the initial ADDED", (p) => find(p, (e) => e.name === "before"));
    assert.equal(initial.type, "ADDED");
    assert.equal(initial.origin, "initial");
    await human.until("the initial line", (p) => p.lines().some((l) => l.includes(`${env.namespace}/before`)));

    await k(["create", "-f", "-"], widget("made", "{replicas: 1, color: red}", "{app: demo}"));
    await k([
      "patch",
      widgets,
      "made",
      "--type",
      "merge",
      "-p",
      '{"spec":{"replicas":3},"metadata":{"labels":{"tier":"web"}}}',
    ]);
    await k(["delete", widgets, "made"]);
    const deleted = await json.until("the delete", (p) => find(p, (e) => e.type === "DELETED" && e.name === "made"));

    const made = events(json).filter((e) => e.name === "made");
    assert.deepEqual(
      made.map((e) => [e.type, e.origin]),
      [
        ["ADDED", "live"],
        ["MODIFIED", "live"],
        ["DELETED", "live"],
      ],
    );
    const [added, modified] = made as [Event, Event];
    assert.deepEqual(Object.keys(added), [
      "type",
      "origin",
      "group",
      "version",
      "kind",
      "namespace",
      "name",
      "resourceVersion",
      "object",
    ]);
    assert.deepEqual(
      [added.group, added.version, added.kind, added.namespace, added.name],
      [kind.group, "v1", "Widget", env.namespace, "made"],
    );
    assert.equal(added.resourceVersion, added.object?.metadata?.resourceVersion);
    assert.deepEqual(added.object?.spec, { replicas: 1, color: "red" });
    const changed = (modified.changedPaths as string[]).filter((p) => p !== "metadata.resourceVersion");
    assert.deepEqual(changed, ["metadata.generation", "metadata.labels.tier", "spec.replicas"]);
    assert.deepEqual(modified.object?.spec, { replicas: 3, color: "red" });
    assert.equal(deleted.finalStateUnknown, undefined);

    const lines = await human.until("the human delete line", (p) =>
      p.lines().some((l) => / DELETED {2}/.test(l) && l.includes("/made")) ? p.lines() : undefined,
    );
    const label = `Widget.${kind.group}`;
    const ref = `${env.namespace}/made`;
    const mine = lines.filter((l) => l.includes(ref));
    assert.equal(mine.length, 3, lines.join("\n"));
    assert.match(mine[0] ?? "", new RegExp(`^\\d\\d:\\d\\d:\\d\\d {2}ADDED {5}${label} {2}${ref}$`));
    assert.match(
      mine[1] ?? "",
      new RegExp(`^\\d\\d:\\d\\d:\\d\\d {2}MODIFIED {2}${label} {2}${ref} {2}\\+labels\\.tier, spec\\.replicas: 1→3$`),
    );
    assert.match(mine[2] ?? "", new RegExp(`^\\d\\d:\\d\\d:\\d\\d {2}DELETED {3}${label} {2}${ref}$`));
    assert.match(lines.find((l) => l.includes("/before")) ?? "", / {2}\(initial\)$/);
    assert.equal(human.stderr, "", "no progress or notices off a terminal");

    for (const p of [json, human]) {
      const res = await p.stop("SIGINT");
      assert.equal(res.code, 130, res.stderr);
      assert.ok(res.ms < promptMs, `exit took ${res.ms} ms`);
    }
  });

  it("--no-initial leaves out the initial list, --progress reports it on stderr, and SIGTERM ends it with 143", async () => {
    // Over the slow network the sync takes several round trips of 300 ms: progress is shown while it lasts.
    const p = watch([widgets, "-n", env.namespace, "-o", "json", "--no-initial", "--progress"], slowKubeconfig);
    await p.until("the kind to sync", synced);
    await k(["create", "-f", "-"], widget("live-one", "{replicas: 1}"));
    await p.until("the live ADDED", (q) => find(q, (e) => e.name === "live-one"));
    assert.ok(!events(p).some((e) => e.origin === "initial"), p.stdout);
    await p.until("the progress summary", (q) =>
      /watching 1 kind \(1 synced\), 1 object listed in \d+\.\ds\n$/.test(q.stderr),
    );
    const progress = p.stderr.trimEnd().split("\n").slice(0, -1);
    assert.ok(progress.length >= 1, `progress lines came before the summary: ${p.stderr}`);
    assert.ok(
      progress.every((l) => /^(finding kinds|syncing kinds: \d+ of \d+ synced, \d+ objects?)$/.test(l)),
      p.stderr,
    );
    const seconds = Number(/listed in (\d+\.\d)s\n$/.exec(p.stderr)?.[1]);
    assert.ok(progress.length <= Math.ceil(seconds) + 1, `at most one progress line a second: ${p.stderr}`);
    const res = await p.stop("SIGTERM");
    assert.equal(res.code, 143, res.stderr);
    assert.ok(res.ms < promptMs, `exit took ${res.ms} ms`);
  });

  it("--checkpoint resumes after a restart: only what changed while it was stopped", async () => {
    const checkpoint = join(dir, "checkpoint.json");
    const args = [widgets, "-n", env.namespace, "-o", "json", "--checkpoint", checkpoint];
    const first = watch(args);
    await first.until("the initial list", (p) => events(p).filter((e) => e.origin === "initial").length === 2);
    assert.equal((await first.stop("SIGINT")).code, 130);
    const saved = JSON.parse(await readFile(checkpoint, "utf8")) as { kinds: Record<string, { objects: object }> };
    assert.deepEqual(Object.keys(saved.kinds[widgets]?.objects ?? {}).sort(), [
      `${env.namespace}/before`,
      `${env.namespace}/live-one`,
    ]);

    await k(["patch", widgets, "before", "--type", "merge", "-p", '{"spec":{"replicas":2}}']);
    await k(["delete", widgets, "live-one"]);
    await k(["create", "-f", "-"], widget("while-stopped", "{replicas: 1}"));

    const second = watch(args);
    const changes = (p: CliProcess) =>
      events(p)
        .filter((e) => !String(e.type).startsWith("KIND_"))
        .map((e) => `${e.type} ${e.name} ${e.origin}`)
        .sort();
    await second.until("the changes made while it was stopped", (p) => synced(p) && changes(p).length >= 3);
    // Objects that did not change while it was stopped are not reported again.
    assert.deepEqual(changes(second), [
      "ADDED while-stopped relist",
      "DELETED live-one relist",
      "MODIFIED before relist",
    ]);
    assert.equal((await second.stop("SIGINT")).code, 130);
  });

  it("reports kinds it cannot read, with the reason: JSON lines, or a notice on stderr", async () => {
    const user = await env.cluster.user(uniqueName("cli-watcher"));
    // One kind it may read: it watches that one, and reports the others.
    const readable = await createWidgetCrd(env.client);
    const role = uniqueName("cli-watch-readable");
    cleanups.push(async () => {
      await revokeClusterRole(env.client, role);
      await readable.remove();
    });
    await grant(role, user.subject, [
      { apiGroups: [readable.group], resources: ["widgets"], verbs: ["list", "watch"] },
    ]);
    // In force before the watch starts: a first round in which every kind is forbidden would end the command.
    await waitFor("the grant in force", () =>
      kubectl(user.kubeconfigPath, ["auth", "can-i", "watch", `widgets.${readable.group}`, "-A"]).then(() => true),
    );
    const json = watch(["-o", "json"], user.kubeconfigPath);
    const human = watch([], user.kubeconfigPath);
    const quarantined = await json.until("a quarantine", (p) =>
      find(p, (e) => e.type === "KIND_QUARANTINED" && e.group === kind.group),
    );
    assert.match(
      String(quarantined.reason),
      new RegExp(`^forbidden: cannot list widgets\\.${kind.group.replaceAll(".", "\\.")}`),
    );
    assert.equal(quarantined.resource, "widgets");
    await human.until("the notice", (p) =>
      p.stderr.split("\n").some((l) => l.startsWith(`quarantined Widget.${kind.group}: forbidden: cannot list`)),
    );
    await json.until("the readable kind synced", (p) =>
      find(p, (e) => e.type === "KIND_SYNCED" && e.group === readable.group),
    );
    assert.equal(human.stdout, "");
    for (const p of [json, human]) assert.equal((await p.stop("SIGINT")).code, 130);
  });

  it("ends with 1 and says what to do when the user may watch none of the kinds, once each was tried", async () => {
    const user = await env.cluster.user(uniqueName("cli-nobody"));
    const p = watch(["-o", "json"], user.kubeconfigPath);
    const res = await p.exited;
    assert.equal(res.code, 1, res.stderr);
    const quarantined = events(p).filter((e) => e.type === "KIND_QUARANTINED");
    assert.ok(
      quarantined.some((e) => e.group === kind.group),
      "its own Widget kind was tried and quarantined before it gave up",
    );
    assert.match(
      res.stderr,
      /^error: you may not list and watch any of the \d+ kinds? selected \(forbidden: cannot list [^)]*\): ask for list and watch rights on them, or name kinds you may read \(kindwatch watch KIND\.\.\.\)\n$/,
    );
  });

  it("ends with 0 when its reader goes away (a closed pipe)", async () => {
    const p = watch([widgets, "-n", env.namespace, "-o", "json"]);
    await p.until("the kind to sync", synced);
    p.child.stdout.destroy();
    await k(["create", "-f", "-"], widget("unread", "{replicas: 1}"));
    const res = await p.exited;
    assert.equal(res.code, 0, res.stderr);
  });

  it("a kind that goes away: its objects are DELETED, then KIND_REMOVED", async () => {
    const p = watch([widgets, "-n", env.namespace, "-o", "json"]);
    await p.until("the kind to sync", synced);
    await kind.remove();
    await p.until("KIND_REMOVED", (q) => find(q, (e) => e.type === "KIND_REMOVED" && e.group === kind.group));
    const after = events(p).slice(events(p).findIndex((e) => e.type === "KIND_SYNCED"));
    const deleted = after.filter((e) => e.type === "DELETED").map((e) => e.name);
    assert.deepEqual(deleted.sort(), ["before", "unread", "while-stopped"]);
    assert.ok(after.findIndex((e) => e.type === "KIND_REMOVED") > after.findLastIndex((e) => e.type === "DELETED"));
    assert.equal((await p.stop("SIGINT")).code, 130);
  });
});
