/** The objects benchmarks list and watch: a CRD per group, widgets of about 1 KiB each, and a fast way to make many. */
import { randomBytes } from "node:crypto";
import type { ResourceClient } from "../../src/client/resource.js";
import { isNotFound } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";
import { crdManifest, objectSchema } from "../../test/support/crd-manifest.js";

/** The `widgets.GROUP` CRD: namespaced, one version `v1`, with a schema for the widget's spec. */
export function crd(group: string): KubeObject {
  const str = { type: "string" };
  const schema = objectSchema({
    spec: { replicas: { type: "integer" }, image: str, owner: str, tags: { type: "array", items: str }, payload: str },
  });
  return crdManifest({
    group,
    kind: "Widget",
    plural: "widgets",
    versions: [{ name: "v1", storage: true, schema }],
  });
}

/** The name of widget `i`; the churn generator (bench/client-go) names them the same way. */
export function widgetName(i: number): string {
  return `widget-${String(i).padStart(5, "0")}`;
}

/** About 1 KiB as the server serves it (metadata, managedFields included); the payload is random, so incompressible. */
export function widget(group: string, i: number): KubeObject {
  return {
    apiVersion: `${group}/v1`,
    kind: "Widget",
    metadata: { name: widgetName(i), labels: { app: "bench", shard: String(i % 16) } },
    spec: {
      replicas: i % 5,
      image: `registry.example.com/bench/widget:1.${i % 10}.0`,
      owner: "team-benchmarks",
      tags: ["alpha", "beta", `shard-${i % 16}`],
      payload: randomBytes(240).toString("base64"),
    },
  };
}

/** Creates `count` objects, `concurrency` at a time; `make(i)` gives the client and the object for index `i`. */
export async function createAll(
  count: number,
  concurrency: number,
  make: (i: number) => { client: ResourceClient; object: KubeObject },
): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const { client, object } = make(i);
      await client.create(object);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
}

/** For cleanups: a thing already gone is fine. */
export function ignoreNotFound(err: unknown): void {
  if (!isNotFound(err)) throw err;
}
