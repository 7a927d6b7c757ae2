/**
 * A version move while a writer creates, patches and deletes objects throughout: the consumer is never told anything
 * twice, never told an older state than it was told, never told of a deleted object again, never told that an
 * existing object is deleted, and ends with the server's view. The race is made certain rather than hoped for: the
 * new version's first list is held back after the server answered it until the old version's watch has told changes
 * newer than it (ADDED, MODIFIED and DELETED), and its first watch is held until the move is done, as a watch that
 * lags behind the old one would be.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { RequestOptions } from "../../src/http/transport.js";
import type { ObjectEvent } from "../../src/watchall/types.js";
import { Churn, names, randomOps } from "../support/churn.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import { createCrd, deleteCrd, setCrdVersions } from "../support/crds.js";
import { waitFor } from "../support/wait.js";
import {
  EventLog,
  engineCluster,
  fastRetries,
  type HoldingTransport,
  holdingTransportFor,
  isObjectEvent,
  simpleCrd,
  uniqueGroup,
} from "../support/watchall.js";

/** What is wrong in what the consumer was told, object by object (by uid); empty when nothing is. */
function violations(events: readonly ObjectEvent[]): string[] {
  const told = new Map<string, { rv: number; deleted: boolean }>();
  const out: string[] = [];
  for (const e of events) {
    const uid = String(e.object.metadata?.uid);
    const rv = Number(e.resourceVersion);
    const at = `${e.type} ${e.name}@${e.resourceVersion} (${e.origin}${e.finalStateUnknown ? ", unknown" : ""})`;
    const seen = told.get(uid);
    if (!seen && e.type !== "ADDED") out.push(`${at}: the first event of its object`);
    else if (seen?.deleted) out.push(`${at}: after its DELETED`);
    else if (seen && e.type === "ADDED") out.push(`${at}: added again`);
    else if (seen && e.type === "MODIFIED" && rv <= seen.rv) out.push(`${at}: not newer than ${seen.rv}, told before`);
    else if (seen && e.type === "DELETED" && rv < seen.rv) out.push(`${at}: older than ${seen.rv}, told before`);
    told.set(uid, { rv: Math.max(rv, seen?.rv ?? 0), deleted: e.type === "DELETED" });
  }
  return out;
}

/** The consumer's view: name -> `uid resourceVersion`, from the events in order. */
function viewOf(events: readonly ObjectEvent[]): Map<string, string> {
  const view = new Map<string, string>();
  for (const e of events) {
    if (e.type === "DELETED") view.delete(e.name);
    else view.set(e.name, `${e.object.metadata?.uid} ${e.resourceVersion}`);
  }
  return view;
}

describe("watch-all: a version move under churn", () => {
  let env: ClientEnv;
  let transport: HoldingTransport;
  const spec = simpleCrd(uniqueGroup("wavc"));
  const { group } = spec;

  before(async () => {
    env = await clientEnv("watchall-version-churn");
    transport = holdingTransportFor(env.cluster.kubeconfigPath);
  });
  after(async () => {
    await deleteCrd(env.transport, spec);
    await transport.close();
    await env.close();
  });

  const at = (version: string) => env.client.resource({ group, version, resource: "gizmos" }).namespace(env.namespace);
  const v2Path = `/apis/${group}/v2/gizmos`;
  const isV2 = (opts: RequestOptions) => opts.path === v2Path && (opts.method ?? "GET") === "GET";

  it("tells each change once, in order, and ends with the server's view", async () => {
    await createCrd(env.transport, spec);
    const churn = new Churn({
      resource: at("v1"),
      names: names("g", 24),
      concurrency: 3,
      next: randomOps,
      object: (name, n) => ({ apiVersion: `${group}/v1`, kind: "Gizmo", metadata: { name }, spec: { n } }),
      update: (n) => ({ spec: { n } }),
    });
    // Paginated lists, so that the new version's list is one request the transport can hold.
    const log = EventLog.start(engineCluster(transport), {
      ...fastRetries,
      informer: { ...fastRetries.informer, streamingList: false },
      include: { groups: [group] },
    });
    const objectEvents = () => log.of(group).filter(isObjectEvent);
    try {
      await log.kindEvent(group, "KIND_SYNCED");
      await waitFor("the writer under way", () => churn.total >= 30);

      const list = transport.hold(isV2);
      const watch = transport.hold(isV2);
      await setCrdVersions(env.transport, spec, [{ name: "v1", storage: true }, { name: "v2" }]);
      const listed = await list.reached;
      const listedAt = Number(
        (JSON.parse(String(listed?.body)) as { metadata: { resourceVersion: string } }).metadata.resourceVersion,
      );
      await waitFor("the old version telling an add, an update and a delete newer than the held list", () => {
        const newer = objectEvents().filter((e) => e.version === "v1" && Number(e.resourceVersion) > listedAt);
        return ["ADDED", "MODIFIED", "DELETED"].every((type) => newer.some((e) => e.type === type));
      });
      list.release();
      const moved = await log.kindEvent(group, "KIND_VERSION_CHANGED");
      watch.release();
      const movedAt = log.events.indexOf(moved);
      await waitFor("changes at the new version", () => {
        const live = log.events.slice(movedAt).filter((e) => isObjectEvent(e) && e.origin === "live");
        return live.length >= 10;
      });
      await churn.stop();

      const fresh = async () => {
        const items = (await at("v2").list()).items;
        return new Map(items.map((o) => [String(o.metadata.name), `${o.metadata.uid} ${o.metadata.resourceVersion}`]));
      };
      const server = await waitFor("the consumer's view to equal a fresh list", async () => {
        const now = await fresh();
        const view = viewOf(objectEvents());
        return view.size === now.size && [...now].every(([name, stamp]) => view.get(name) === stamp) && now;
      }).catch(async (err: Error) => {
        // Say what differs rather than only that it did not converge.
        assert.deepEqual(Object.fromEntries(viewOf(objectEvents())), Object.fromEntries(await fresh()), err.message);
        throw err;
      });

      assert.deepEqual(violations(objectEvents()), []);
      assert.deepEqual([...server.keys()].sort(), [...churn.exists].sort(), "the writer's record agrees");
      const deleted = new Set(
        objectEvents().flatMap((e) => (e.type === "DELETED" ? [String(e.object.metadata?.uid)] : [])),
      );
      const alive = [...server.values()].filter((stamp) => deleted.has(stamp.slice(0, stamp.indexOf(" "))));
      assert.deepEqual(alive, [], "no object told DELETED exists");
      assert.ok(churn.counts.create > 0 && churn.counts.update > 0 && churn.counts.delete > 0, "the writer did all");
      assert.deepEqual(log.kinds(group), ["KIND_ADDED v1", "KIND_SYNCED v1", "KIND_VERSION_CHANGED v2"]);
    } finally {
      await churn.stop();
      await log.stop();
    }
  });
});
