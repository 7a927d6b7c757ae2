/**
 * internStrings: equal string values in different objects end up as one copy; values never change. The informer's
 * default transform does so for the type and metadata, which only memory shows.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { defaultTransform, dropManagedFields, Informer, type InformerOptions } from "../../src/cache/informer.js";
import { internStrings } from "../../src/cache/intern.js";
import type { KubeObject } from "../../src/object/types.js";
import { page, ScriptedListWatch } from "../support/listwatch.js";

setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

function pod(name: string): KubeObject {
  return JSON.parse(
    JSON.stringify({
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: "production-shop",
        uid: `uid-of-${name}-0000000000`,
        resourceVersion: "1234567890123",
        labels: { "app.kubernetes.io/name": "web-frontend" },
        ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-frontend-6f9c" }],
      },
      spec: { containers: [{ name: "app", image: "registry.example.com/web:1.2.3", args: ["--log-level=info"] }] },
    }),
  ) as KubeObject;
}

describe("internStrings", () => {
  it("changes no value", () => {
    const intern = internStrings();
    const a = pod("web-frontend-6f9c-aaaaa");
    intern(pod("web-frontend-6f9c-bbbbb"));
    assert.deepEqual(intern(a), pod("web-frontend-6f9c-aaaaa"));
  });

  it("hands later objects the first object's strings (the table is observable only through memory)", () => {
    const intern = internStrings();
    const a = intern(pod("web-frontend-6f9c-aaaaa"));
    const b = intern(pod("web-frontend-6f9c-bbbbb"));
    // Equal strings compare equal whether shared or not; what can be checked is that every value survives, and that
    // the table refuses to keep growing (below).
    assert.equal(a.metadata.namespace, b.metadata.namespace);
    assert.deepEqual(a.spec, b.spec);
    assert.notEqual(a.metadata.uid, b.metadata.uid);
  });

  it("empties its table when full, and carries on", () => {
    const intern = internStrings({ maxStrings: 3 });
    const objects = Array.from({ length: 20 }, (_, i) =>
      intern(pod(`web-frontend-6f9c-${String(i).padStart(5, "0")}`)),
    );
    for (const [i, o] of objects.entries()) {
      assert.deepEqual(o, pod(`web-frontend-6f9c-${String(i).padStart(5, "0")}`));
    }
  });

  it("walks arrays of strings and nested arrays", () => {
    const intern = internStrings({ maxLength: 20 });
    const o: KubeObject = {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c" },
      data: { list: ["a-long-enough-value", ["another-long-value", 1, null, { k: "nested-long-value" }]] },
    };
    const copy = structuredClone(o);
    assert.deepEqual(intern(o), copy);
  });
});

describe("internStrings({ bodies: false })", () => {
  it("interns the type and metadata, and leaves the body's strings as they were", () => {
    const intern = internStrings({ bodies: false });
    const a = pod("web-frontend-6f9c-aaaaa");
    intern(pod("web-frontend-6f9c-bbbbb"));
    assert.deepEqual(intern(a), pod("web-frontend-6f9c-aaaaa"));
  });
});

/** 4,000 objects, each parsed on its own, with 60-character apiVersion, namespace, label value and spec value. */
function parsedApart(): KubeObject[] {
  const long = (what: string) => `${what}-`.padEnd(60, "x");
  return Array.from(
    { length: 4000 },
    (_, i) =>
      JSON.parse(
        JSON.stringify({
          apiVersion: `${long("group")}/v1`,
          kind: "Widget",
          metadata: {
            labels: { app: long("app") },
            managedFields: [{ manager: "kubectl" }],
            name: `w-${i}`,
            namespace: long("namespace"),
            resourceVersion: String(i),
            uid: `uid-${i}`,
          },
          spec: { image: long("image") },
        }),
      ) as KubeObject,
  );
}

/** The heap an informer's store of {@link parsedApart} objects takes, with `options`. */
async function storeBytes(options: InformerOptions<KubeObject>): Promise<number> {
  const items = parsedApart();
  gc();
  const before = process.memoryUsage().heapUsed;
  const inf = new Informer(new ScriptedListWatch().replyToList(page("7", items)), { streamingList: false, ...options });
  inf.start();
  try {
    await inf.synced(AbortSignal.timeout(5000));
    items.length = 0;
    gc();
    return process.memoryUsage().heapUsed - before;
  } finally {
    await inf.stop();
  }
}

describe("defaultTransform", () => {
  it("drops managedFields and changes no other value", () => {
    for (const [i, o] of parsedApart().entries()) {
      const { managedFields: _, ...metadata } = o.metadata;
      const expected = { ...o, metadata };
      assert.deepEqual(defaultTransform(o), expected);
      if (i === 2) break;
    }
  });

  it("is the informer's default: the type's and metadata's strings stored once, the body's not", async () => {
    const dropped = await storeBytes({ transform: dropManagedFields });
    const interned = await storeBytes({});
    // Three 60-character strings an object (80 bytes each on the heap) shared: up to 960 KB less for 4,000 objects,
    // 540 to 660 KB measured (without interning: -50 to +50 KB); the spec's own stays (the default walks no body).
    const saved = dropped - interned;
    assert.ok(saved > 300_000, `the default saved ${saved} bytes over dropManagedFields alone`);
    assert.ok(saved < 1_280_000, `the default saved ${saved} bytes: more than the type and metadata hold`);
  });
});
