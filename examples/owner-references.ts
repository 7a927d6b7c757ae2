// Owner references: a dependent names the object that owns it, so a controller can map its events back to the owner.
import { connect, Informer, listWatchOf, meta, setControllerReference } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect();

const configMaps = cluster.resource({ group: "", version: "v1", resource: "configmaps" }).namespace(namespace);
// An index of dependents by their controller's uid: "what does this owner own?" without a list call.
const dependents = new Informer(listWatchOf(configMaps), {
  indexers: {
    controller: (cm) => {
      const uid = meta.controllerOf(cm)?.uid;
      return uid ? [uid] : [];
    },
  },
});
try {
  const { client } = await cluster.lookup("databases.example.com"); // examples/databases-crd.yaml
  const owner = await client
    .namespace(namespace)
    .apply(
      { apiVersion: "example.com/v1", kind: "Database", metadata: { name: "orders" }, spec: { engine: "postgres" } },
      { fieldManager: "database-controller" },
    );
  const wanted = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "orders-settings", namespace },
    data: { maxConnections: "100" },
  };
  // The owner's identity (its uid, not only its name), marked controller; refuses a second controller or an owner in
  // another namespace.
  setControllerReference(owner, wanted);
  const settings = await configMaps.apply(wanted, { fieldManager: "database-controller" });
  const ref = meta.controllerOf(settings);
  console.log(`orders-settings is controlled by ${ref?.kind} ${ref?.name}`);

  // controller-runtime's Owns(&ConfigMap{}): a change to a dependent reconciles its owner.
  let changed: () => void = () => {};
  const seen = new Promise<void>((resolve) => {
    changed = resolve;
  });
  dependents.addHandlers({
    update: (_old, cm) => {
      const controller = meta.controllerOf(cm);
      if (controller?.kind !== "Database") return;
      console.log(`reconcile Database ${namespace}/${controller.name}: ${cm.metadata.name} changed`);
      changed();
    },
  });
  dependents.start();
  await dependents.synced();
  const owned = dependents.store.byIndex("controller", owner.metadata.uid ?? "");
  console.log(`orders owns: ${owned.map((cm) => cm.metadata.name).join(", ")}`);

  await configMaps.patch("orders-settings", { data: { maxConnections: "5" } }, "merge"); // someone edits it
  await seen;
} finally {
  await dependents.stop();
  await cluster.close();
}
