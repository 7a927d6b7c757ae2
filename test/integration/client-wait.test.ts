/**
 * Waiting for one object on a real server, in kubectl wait's three forms: a condition (set by a status patch, some
 * from kubectl), a deletion, a JSONPath value; and the ways a wait ends without success.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ResourceClient, type WatchEvent, type WatchOptions, waitForObject } from "../../src/client/index.js";
import type { KubeObject } from "../../src/object/types.js";
import { type Client, type ClientEnv, clientEnv } from "../support/client.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { failure } from "../support/failure.js";
import { kubectl } from "../support/kubectl.js";
import { uniqueName } from "../support/wait.js";

/**
 * `client`, and a promise that resolves once a wait on it has read the object and started its watch: from then on, a
 * change can only reach the wait through the watch.
 */
function watched(client: Client): { client: Client; watching: Promise<void> } {
  let started: () => void = () => {};
  const watching = new Promise<void>((resolve) => {
    started = resolve;
  });
  class Spy extends ResourceClient<KubeObject> {
    override watch(opts?: WatchOptions): AsyncGenerator<WatchEvent<KubeObject>> {
      started();
      return super.watch(opts);
    }
  }
  return { client: new Spy(client.transport, client.gvr, client.namespaceName), watching };
}

describe("waitForObject", () => {
  let env: ClientEnv;
  let gears: Client;
  const crd = {
    group: `${uniqueName("wait")}.kindwatch.dev`,
    kind: "Gear",
    plural: "gears",
    versions: [{ name: "v1", storage: true, subresources: true }],
  };
  const gear = (name: string): KubeObject => ({
    apiVersion: `${crd.group}/v1`,
    kind: "Gear",
    metadata: { name },
    spec: { teeth: 12 },
  });
  const setStatus = (name: string, status: Record<string, unknown>) => gears.patchStatus(name, { status }, "merge");
  const k = (...args: string[]) => kubectl(env.cluster.kubeconfigPath, ["-n", env.namespace, ...args]);

  before(async () => {
    env = await clientEnv("client-wait");
    await createCrd(env.transport, crd);
    gears = env.client.resource({ group: crd.group, version: "v1", resource: "gears" }).namespace(env.namespace);
  });

  after(async () => {
    await deleteCrd(env.transport, crd);
    await env?.close();
  });

  it("waits for a condition that a status patch sets, and returns the object that met it", async () => {
    await gears.create(gear("ready"));
    await setStatus("ready", { conditions: [{ type: "Ready", status: "False", reason: "Starting" }] });
    const spy = watched(gears);
    const waiting = waitForObject(spy.client, "ready", "condition=Ready", { timeoutMs: 20_000 });
    await spy.watching;
    const patched = await setStatus("ready", {
      conditions: [{ type: "Ready", status: "True", reason: "Up", observedGeneration: 1 }],
    });
    const met = await waiting;
    assert.equal(
      met?.metadata.resourceVersion,
      patched.metadata.resourceVersion,
      "the patched state, seen on the watch",
    );
    const falseNow = await waitForObject(gears, "ready", { condition: "ready", status: "true" }, { timeoutMs: 0 });
    assert.equal(falseNow?.metadata.name, "ready", "type and status compare ignoring case; 0 checks once");
  });

  it("does not count a condition observed for an older generation, as kubectl does not", async () => {
    await gears.create(gear("stale"));
    await gears.patch("stale", { spec: { teeth: 13 } }, "merge");
    await setStatus("stale", { conditions: [{ type: "Ready", status: "True", observedGeneration: 1 }] });
    const spy = watched(gears);
    const waiting = waitForObject(spy.client, "stale", "condition=Ready", { timeoutMs: 20_000 });
    await spy.watching;
    // kubectl writes the status that meets it: an independent client, seen through the watch.
    await k(
      "patch",
      `gears.${crd.group}`,
      "stale",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status: { conditions: [{ type: "Ready", status: "True", observedGeneration: 2 }] } }),
    );
    const met = await waiting;
    assert.ok(met);
    assert.equal(met.metadata.generation, 2);
    assert.deepEqual(
      (met.status as { conditions: { observedGeneration: number }[] }).conditions.map((c) => c.observedGeneration),
      [2],
    );
  });

  it("waits for a deletion, returning the last state; an object already gone needs no wait", async () => {
    const created = await gears.create(gear("doomed"));
    const spy = watched(gears);
    const waiting = waitForObject(spy.client, "doomed", "delete", { timeoutMs: 20_000 });
    await spy.watching;
    await k("delete", `gears.${crd.group}`, "doomed", "--wait=false");
    const last = await waiting;
    assert.equal(last?.metadata.uid, created.metadata.uid);
    assert.equal(await waitForObject(gears, "doomed", { delete: true }, { timeoutMs: 20_000 }), undefined);
  });

  it("counts a namesake with another uid as the deletion of the one waited for", async () => {
    const old = await gears.create(gear("reborn"));
    await gears.delete("reborn");
    await gears.create(gear("reborn"));
    const result = await waitForObject(
      gears,
      "reborn",
      { delete: true, uid: old.metadata.uid ?? "" },
      { timeoutMs: 0 },
    );
    assert.equal(result, undefined);
  });

  it("waits for a JSONPath value, with indexes, or for any value", async () => {
    await gears.create(gear("phased"));
    const spies = [watched(gears), watched(gears), watched(gears)] as const;
    const running = waitForObject(spies[0].client, "phased", "jsonpath={.status.phase}=Running", { timeoutMs: 20_000 });
    const indexed = waitForObject(spies[1].client, "phased", "jsonpath='{.status.conditions[0].type}'=Ready", {
      timeoutMs: 20_000,
    });
    const anything = waitForObject(spies[2].client, "phased", "jsonpath=.status.phase", { timeoutMs: 20_000 });
    await Promise.all(spies.map((s) => s.watching));
    await setStatus("phased", { phase: "Pending" });
    assert.deepEqual((await anything)?.status, { phase: "Pending" });
    const patched = await setStatus("phased", { phase: "Running", conditions: [{ type: "Ready", status: "True" }] });
    assert.equal((await running)?.metadata.resourceVersion, patched.metadata.resourceVersion);
    assert.equal((await indexed)?.metadata.resourceVersion, patched.metadata.resourceVersion);
    const replicas = await waitForObject(gears, "phased", { jsonPath: "{.spec.teeth}", value: "12" }, { timeoutMs: 0 });
    assert.equal(replicas?.metadata.name, "phased", "a number compares as its text, as kubectl's does");
    await assert.rejects(waitForObject(gears, "phased", "jsonpath={.spec}=x", { timeoutMs: 0 }), {
      name: "TypeError",
      message: "JSONPath {.spec} selects an object or a list, which cannot be compared with a value",
    });
  });

  it("waits on kubectl's full JSONPath: a filter on the conditions, as kubectl wait takes it", async () => {
    await gears.create(gear("filtered"));
    await setStatus("filtered", {
      conditions: [
        { type: "Synced", status: "True" },
        { type: "Ready", status: "False" },
      ],
    });
    const template = `{.status.conditions[?(@.type=="Ready")].status}`;
    const spy = watched(gears);
    const waiting = waitForObject(spy.client, "filtered", `jsonpath='${template}'=True`, { timeoutMs: 20_000 });
    await spy.watching;
    await k(
      "patch",
      `gears.${crd.group}`,
      "filtered",
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({
        status: {
          conditions: [
            { type: "Synced", status: "True" },
            { type: "Ready", status: "True" },
          ],
        },
      }),
    );
    const met = await waiting;
    assert.ok(met);
    assert.deepEqual(
      (met.status as { conditions: { status: string }[] }).conditions.map((c) => c.status),
      ["True", "True"],
      "the state kubectl wrote, seen on the watch",
    );
    const last = await waitForObject(gears, "filtered", "jsonpath={.status.conditions[-1:].type}=Ready", {
      timeoutMs: 0,
    });
    assert.equal(last?.metadata.name, "filtered", "a slice from the end");
    await assert.rejects(waitForObject(gears, "filtered", "jsonpath={.status.conditions[*].type}", { timeoutMs: 0 }), {
      name: "TypeError",
      message: "JSONPath {.status.conditions[*].type} selects more than one value",
    });
    await assert.rejects(
      waitForObject(gears, "filtered", "jsonpath={.status.conditions[5].type}=Ready", { timeoutMs: 0 }),
      {
        name: "JsonPathError",
        message: "array index out of bounds: index 5, length 2",
      },
    );
    await assert.rejects(waitForObject(gears, "filtered", "jsonpath={.status.conditions[?(@.type==}"), {
      name: "JsonPathError",
    });
  });

  it("ends as Timeout when time runs out, Aborted when the signal fires, NotFound when there is nothing to wait on", async () => {
    await gears.create(gear("never"));
    const timeout = await failure(waitForObject(gears, "never", "condition=Ready", { timeoutMs: 300 }));
    assert.equal(timeout.kind, "Timeout");
    assert.equal(
      timeout.message,
      `timed out after 300 ms waiting for condition=Ready=True on gears.${crd.group}/never`,
    );
    const once = await failure(waitForObject(gears, "never", "condition=Ready", { timeoutMs: 0 }));
    assert.equal(once.message, `condition=Ready=True not met for gears.${crd.group}/never`);

    const controller = new AbortController();
    const aborted = waitForObject(gears, "never", "condition=Ready", { signal: controller.signal, timeoutMs: 20_000 });
    controller.abort();
    assert.equal((await failure(aborted)).kind, "Aborted");

    const missing = await failure(waitForObject(gears, "absent", "condition=Ready", { timeoutMs: 20_000 }));
    assert.equal(missing.kind, "NotFound");
    assert.equal(missing.message, `gears.${crd.group}/absent does not exist while waiting for condition=Ready=True`);

    const spy = watched(gears);
    const deleted = failure(waitForObject(spy.client, "never", "jsonpath={.status.phase}=Done", { timeoutMs: 20_000 }));
    await spy.watching;
    await gears.delete("never");
    const gone = await deleted;
    assert.equal(gone.kind, "NotFound");
    assert.match(gone.message, /never was deleted while waiting for jsonpath=\{\.status\.phase\}=Done$/);
  });
});
