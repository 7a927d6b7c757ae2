// Server-side apply: each field manager declares the fields it owns; a controller reports through the status subresource.
import { connect, deepCopy, getCondition, getConditions, isConflict, type KubeObject, setCondition } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect();
try {
  const { client } = await cluster.lookup("databases.example.com"); // examples/databases-crd.yaml
  const databases = client.namespace(namespace);
  const database = (spec: object) => ({
    apiVersion: "example.com/v1",
    kind: "Database",
    metadata: { name: "orders" },
    spec,
  });

  // The user's intent, as `kubectl apply --server-side`: the fields given are owned by this manager.
  const applied = await databases.apply(database({ engine: "postgres", storageGB: 10 }), {
    fieldManager: "shop-deployer",
  });
  console.log(`applied: generation ${applied.metadata.generation}`);

  /** A controller's report: only its own condition, set on a copy of what it read so its transition time is kept. */
  async function reportReady(status: "True" | "False", reason: string): Promise<KubeObject | undefined> {
    // A copy: in a controller the object comes from an informer's cache, which no one may change.
    const current = deepCopy(await databases.get("orders"));
    const { changed } = setCondition(current, { type: "Ready", status, reason }); // observedGeneration: generation
    if (!changed) return undefined; // nothing new to say: no write, no new resourceVersion for watchers
    const conditions = [getCondition(current, "Ready")];
    return databases.applyStatus(
      { apiVersion: "example.com/v1", kind: "Database", metadata: { name: "orders" }, status: { conditions } },
      { fieldManager: "database-controller" },
    );
  }
  const ready = (db: KubeObject | undefined) => (db ? getCondition(db, "Ready") : undefined);
  for (const [status, reason] of [
    ["False", "Provisioning"],
    ["True", "Provisioned"],
    ["True", "Provisioned"],
  ] as const) {
    const condition = ready(await reportReady(status, reason));
    if (!condition) console.log(`Ready=${status} (${reason}) again: nothing to write`);
    else
      console.log(
        `Ready=${condition.status} (${condition.reason}), observedGeneration ${condition.observedGeneration}`,
      );
  }

  // Another manager's condition: the CRD keys status.conditions by type, so each manager owns only its entries.
  const backup = { apiVersion: "example.com/v1", kind: "Database", metadata: { name: "orders" } };
  setCondition(backup, { type: "BackupReady", status: "True", reason: "Scheduled" });
  const before = ready(await databases.applyStatus(backup, { fieldManager: "backup-operator" }));
  const healthy = await reportReady("True", "Healthy"); // a new reason, the same status
  console.log(
    `conditions: ${getConditions(healthy)
      .map((c) => c.type)
      .join(", ")}`,
  );
  console.log(`transition time kept: ${ready(healthy)?.lastTransitionTime === before?.lastTransitionTime}`);
  console.log(`status writes leave the generation: ${healthy?.metadata.generation}`);

  // Another manager may not take a field someone else owns, unless it forces.
  try {
    await databases.apply(database({ storageGB: 20 }), { fieldManager: "ops" });
  } catch (err) {
    if (!isConflict(err)) throw err;
    console.log(`conflict: ${err.message}`);
  }
  const forced = await databases.apply(database({ storageGB: 20 }), { fieldManager: "ops", force: true });
  console.log(`forced: storageGB ${(forced.spec as { storageGB?: number }).storageGB}`);
} finally {
  await cluster.close();
}
