// Several consumers of one kind share one informer (one list, one watch, one cache); it stops when the last lets go.
import { connect } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect(); // cluster.informers is its SharedInformerFactory
const gvr = { group: "", version: "v1", resource: "configmaps" };
const configMaps = cluster.resource(gvr).namespace(namespace);
try {
  await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop", labels: { app: "shop" } } });
  await configMaps.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "blog" } });

  // Two controllers ask for the same selection: one informer. Another selection: another informer.
  const billing = cluster.informers.acquire({ gvr, namespace });
  const shipping = cluster.informers.acquire({ gvr, namespace });
  const shopOnly = cluster.informers.acquire({ gvr, namespace, labelSelector: "app=shop" });
  console.log(`billing and shipping share: ${billing.informer === shipping.informer}`);
  console.log(`informers: ${cluster.informers.informers().length}`);

  // Each consumer has its own handlers on the shared informer, and removes only its own.
  const removeHandlers = shipping.informer.addHandlers({
    add: (cm) => console.log(`shipping told: ${cm.metadata.name}`),
  });
  await cluster.informers.waitForSync(); // every informer held now (controller-runtime: WaitForCacheSync)
  await shipping.informer.idle();
  console.log(`all configmaps: ${billing.informer.store.size}, app=shop: ${shopOnly.informer.store.size}`);
  removeHandlers();

  await billing.release();
  console.log(`after billing let go: ${cluster.informers.informers().length} informers`);
  await shipping.release(); // the last holder: this informer stops
  await shopOnly.release();
  console.log(`after everyone let go: ${cluster.informers.informers().length} informers`);
} finally {
  await cluster.close(); // stops whatever is still held
}
