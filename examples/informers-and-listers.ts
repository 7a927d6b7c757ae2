// An informer keeps a local copy of one kind in sync; listers and indexes read that copy without asking the server.
import { connect, Informer, type KubeObject, listWatchOf, meta } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect();
const configMaps = cluster.resource({ group: "", version: "v1", resource: "configmaps" }).namespace(namespace);
const names = (objects: KubeObject[]) => objects.map((o) => o.metadata.name).join(", ");

// client-go: NewSharedIndexInformer(listWatch, &ConfigMap{}, resync, Indexers{"team": ...})
const informer = new Informer(listWatchOf(configMaps, { labelSelector: "app=shop" }), {
  indexers: {
    team: (cm) => {
      const team = meta.labels(cm).team;
      return team ? [team] : []; // no value: not in the index
    },
  },
});
try {
  for (const [name, team] of [
    ["web-settings", "web"],
    ["db-settings", "data"],
  ] as const) {
    await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name, labels: { app: "shop", team } } });
  }

  let sawLive: () => void = () => {};
  const live = new Promise<void>((resolve) => {
    sawLive = resolve;
  });
  informer.addHandlers({
    add: (cm, { origin }) => {
      console.log(`add ${cm.metadata.name} (${origin})`);
      if (origin === "live") sawLive();
    },
    update: (_old, cm) => console.log(`update ${cm.metadata.name}`),
    delete: (cm) => console.log(`delete ${cm.metadata.name}`),
  });
  informer.start();
  await informer.synced(); // client-go: cache.WaitForCacheSync
  await informer.idle(); // every handler has been told the initial list

  const { store } = informer; // client-go: the informer's Indexer, and listers over it
  console.log(`stored: ${names(store.listNamespace(namespace))}`);
  console.log(`team web: ${names(store.byIndex("team", "web"))}`);
  console.log(`team!=web: ${names(store.select("team!=web", namespace))}`);

  await configMaps.create({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "web-flags", labels: { app: "shop", team: "web" } },
  });
  await live;
  console.log(`team web: ${names(store.byIndex("team", "web"))}`);
  console.log(`get: ${store.getByName(namespace, "web-flags")?.metadata.name ?? "none"}`);
} finally {
  await informer.stop();
  await cluster.close();
}
