// One stream of every kind a filter selects; with a checkpoint, a restart hears only what changed while it was down.
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect, type WatchAllOptions } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect();
const configMaps = cluster.resource({ group: "", version: "v1", resource: "configmaps" }).namespace(namespace);
const options: WatchAllOptions = {
  include: { kinds: ["ConfigMap"], namespaces: [namespace] }, // a built-in kind, named: watched too
  labelSelector: "app=shop", // on the server, for every kind
  checkpoint: join(await mkdtemp(join(tmpdir(), "watch-all-")), "checkpoint.json"),
};

/** Prints the stream until every selected kind has been listed, then leaves: the engine stops, the checkpoint is saved. */
async function watchUntilSynced(run: string): Promise<void> {
  for await (const event of cluster.watchAll(options)) {
    if ("name" in event) console.log(`${run}: ${event.type} ${event.kind} ${event.name} (${event.origin})`);
    else console.log(`${run}: ${event.type} ${event.kind}`);
    if (event.type === "KIND_SYNCED") break;
  }
}

try {
  for (const name of ["cart", "checkout"]) {
    await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { app: "shop" } } });
  }
  await watchUntilSynced("first run");

  // While nothing watches: one change, one delete, one new object.
  await configMaps.patch("cart", { data: { currency: "EUR" } }, "merge");
  await configMaps.delete("checkout");
  await configMaps.create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "search", labels: { app: "shop" } },
  });
  await watchUntilSynced("second run");
} finally {
  await cluster.close();
}
