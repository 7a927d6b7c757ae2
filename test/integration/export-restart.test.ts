/**
 * `kindwatch export` to a file across a kill -9: twelve CRDs are churned (creates, updates, deletes) while the exporter
 * runs, is killed with SIGKILL mid-run, and is started again from its checkpoint while the churn goes on.
 *
 * The oracle, on the received history de-duplicated by id (a redelivered event carries the id it had):
 * - every object that exists at the end was received, and the last event received for its uid is its current state
 *   (added or modified, at the resourceVersion the server has now);
 * - every uid received that no longer exists ends with a deleted event;
 * - per uid, resourceVersions never go back in the order received (inferred deletes aside: they are last), and a
 *   redelivered id is the same change;
 * - every kind was announced (kind.added and kind.synced).
 * Not every intermediate write need be received: changes made while the exporter was dead are told as the state they
 * led to (the watch-all engine's resume), as are changes an informer merged under load.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { KubeObject } from "../../src/object/types.js";
import { Churn, randomOps } from "../support/churn.js";
import { CliProcess } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { processTempDir } from "../support/tempdir.js";
import { waitFor } from "../support/wait.js";
import { simpleCrd, uniqueGroup } from "../support/watchall.js";

interface Received {
  readonly id: string;
  readonly type: string;
  readonly subject?: string;
  readonly kwgroup: string;
  readonly kworigin?: string;
  readonly data?: KubeObject;
}

/** The file's events in the order written, and how many lines were torn by the kill. */
async function readEvents(path: string): Promise<{ events: Received[]; torn: number }> {
  let text = "";
  try {
    text = await readFile(path, "utf8");
  } catch {
    return { events: [], torn: 0 };
  }
  const events: Received[] = [];
  let torn = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    try {
      events.push(JSON.parse(line) as Received);
    } catch {
      torn++;
    }
  }
  return { events, torn };
}

/** Object events by uid, de-duplicated by id (first occurrence), in the order received. */
function historyByUid(events: readonly Received[]): Map<string, Received[]> {
  const seen = new Map<string, Received>();
  const byUid = new Map<string, Received[]>();
  for (const e of events) {
    const first = seen.get(e.id);
    if (first) {
      assert.equal(e.type, first.type, `a redelivered ${e.id} is the same change`);
      continue;
    }
    seen.set(e.id, e);
    if (!e.type.startsWith("dev.kindwatch.object.")) continue;
    const uid = e.id.slice(0, e.id.indexOf("/"));
    byUid.set(uid, [...(byUid.get(uid) ?? []), e]);
  }
  return byUid;
}

const rvOf = (e: Received) => Number(e.id.slice(e.id.indexOf("/") + 1));

describe("kindwatch export: a file sink across a kill -9", () => {
  let env: ClientEnv;
  const specs: CrdSpec[] = Array.from({ length: 12 }, (_, i) => simpleCrd(uniqueGroup(`exr${i}`), "Sprocket"));

  before(async () => {
    env = await clientEnv("export-restart");
    for (const spec of specs) await createCrd(env.transport, spec);
  });
  after(async () => {
    for (const spec of specs) await deleteCrd(env.transport, spec);
    await env.close();
  });

  const sprockets = (spec: CrdSpec) =>
    env.client.resource({ group: spec.group, version: "v1", resource: "sprockets" }).namespace(env.namespace);

  it("receives every object's last state and every delete, with the same ids when delivered again", async () => {
    const dir = processTempDir("export-restart");
    const file = join(dir, "events.ndjson");
    const checkpoint = join(dir, "checkpoint.json");
    const args = [
      "export",
      ...["--sink", `file://${file}`, "--checkpoint", checkpoint, "--cluster-name", "test"],
      ...["--kinds", specs.map((s) => `sprockets.${s.group}`).join(",")],
    ];
    const kubeconfig = env.cluster.kubeconfigPath;
    let churnUntil = Number.POSITIVE_INFINITY;
    const churns = specs.map(
      (spec) =>
        new Churn({
          resource: sprockets(spec),
          object: (name, n) => ({
            apiVersion: `${spec.group}/v1`,
            kind: "Sprocket",
            metadata: { name },
            spec: { n },
          }),
          update: (n) => ({ spec: { n } }),
          names: ["s0", "s1", "s2", "s3"],
          concurrency: 1,
          next: (name, exists) => (Date.now() < churnUntil ? randomOps(name, exists) : undefined),
        }),
    );
    const total = () => churns.reduce((n, c) => n + c.total, 0);

    const first = new CliProcess(args, { kubeconfig, timeoutMs: 180_000 });
    const second = { cli: undefined as CliProcess | undefined };
    try {
      // Killed once it has delivered a good part and saved its checkpoint at least once (every 5 s).
      await waitFor(
        "the first exporter to deliver and checkpoint",
        async () => {
          const { events } = await readEvents(file);
          const saved = await readFile(checkpoint, "utf8").catch(() => "");
          return events.length >= 200 && saved.includes("sprockets");
        },
        { timeoutMs: 90_000 },
      );
      first.child.kill("SIGKILL");
      const killed = await first.exited;
      assert.equal(killed.signal, "SIGKILL");
      const atKill = total();
      // The churn goes on while no exporter runs.
      await waitFor("writes while the exporter is dead", () => total() >= atKill + 50);

      second.cli = new CliProcess(args, { kubeconfig, timeoutMs: 180_000 });
      const restartedAt = (await readEvents(file)).events.length;
      await waitFor(
        "the second exporter to deliver",
        async () => (await readEvents(file)).events.length > restartedAt + 50,
        {
          timeoutMs: 60_000,
        },
      );
      churnUntil = Date.now() + 3000;
      await Promise.all(churns.map((c) => c.done));

      // The server's final state: every object by uid, at its resourceVersion.
      const current = new Map<string, string>();
      for (const spec of specs) {
        for (const o of (await sprockets(spec).list()).items) {
          current.set(o.metadata?.uid ?? "", o.metadata?.resourceVersion ?? "");
        }
      }
      let missing: string[] = [];
      await waitFor(
        "the received history to reach the server's final state",
        async () => {
          const byUid = historyByUid((await readEvents(file)).events);
          missing = [];
          for (const [uid, rv] of current) {
            const last = byUid.get(uid)?.at(-1);
            if (last?.id !== `${uid}/${rv}`)
              missing.push(`${uid}/${rv} exists, last received ${last?.id} ${last?.type}`);
          }
          for (const [uid, history] of byUid) {
            const last = history.at(-1);
            if (!current.has(uid) && last?.type !== "dev.kindwatch.object.deleted") {
              missing.push(`${uid} is gone, last received ${last?.id} ${last?.type}`);
            }
          }
          return missing.length === 0;
        },
        { timeoutMs: 60_000 },
      ).catch((err: Error) => {
        throw new Error(`${err.message}: ${missing.slice(0, 5).join("; ")} (${missing.length} in all)`);
      });
      const result = await second.cli.stop("SIGTERM");
      assert.equal(result.code, 143, result.stderr);
      assert.doesNotMatch(result.stderr, /error/i);
    } finally {
      churnUntil = 0;
      await Promise.all(churns.map((c) => c.stop()));
      if (first.child.exitCode === null && first.child.signalCode === null) first.child.kill("SIGKILL");
      await second.cli?.stop("SIGKILL");
    }

    const { events, torn } = await readEvents(file);
    assert.ok(torn <= 1, `only the line being written at the kill may be torn (${torn})`);
    const byUid = historyByUid(events);
    const ours = new Set(specs.map((s) => s.group));
    for (const [uid, history] of byUid) {
      assert.ok(ours.has(history[0]?.kwgroup ?? ""), `${uid} is one of the test's objects`);
      // An inferred delete carries the resourceVersion the checkpoint held (none for an object in doubt), which may be
      // older than a change delivered but not acknowledged before the kill: it is checked to be last instead.
      const rvs = history.filter((e) => !e.id.endsWith("-deleted")).map(rvOf);
      assert.deepEqual(
        rvs,
        [...rvs].sort((a, b) => a - b),
        `${uid}'s resourceVersions never go back: ${history.map((e) => `${e.id} ${e.type} ${e.kworigin}`).join(", ")}`,
      );
      // A delete watched before the kill and not acknowledged is inferred again after it: deletes may repeat.
      const deleted = history.findIndex((e) => e.type === "dev.kindwatch.object.deleted");
      assert.ok(
        deleted < 0 || history.slice(deleted).every((e) => e.type === "dev.kindwatch.object.deleted"),
        `only deletes follow ${uid}'s delete: ${history.map((e) => `${e.id} ${e.type} ${e.kworigin}`).join(", ")}`,
      );
    }
    for (const spec of specs) {
      const kindIds = new Set(events.filter((e) => e.kwgroup === spec.group).map((e) => e.id));
      assert.ok(kindIds.has(`${spec.group}/sprockets/added/v1`), `${spec.group} announced`);
      assert.ok(kindIds.has(`${spec.group}/sprockets/synced/v1`), `${spec.group} synced`);
    }
    const unique = new Set(events.map((e) => e.id)).size;
    const writes = total();
    const seen = [...byUid.values()].reduce((n, h) => n + h.length, 0);
    // For the report: how much was delivered twice, and how many of the writes were seen one by one.
    console.log(
      `export across kill -9: ${writes} writes, ${events.length} events received, ${unique} unique ids, ` +
        `${events.length - unique} duplicates, ${seen} distinct object changes, ${byUid.size} objects, ${torn} torn`,
    );
  });
});
