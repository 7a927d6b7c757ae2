// Get, list, patch and watch an arbitrary custom resource: no generated types, names resolved as kubectl does.
import { connect, nested } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const cluster = connect(); // KUBECONFIG, ~/.kube/config, or the pod's service account
try {
  const { client } = await cluster.lookup("widgets.example.com"); // or "widget", "Widget", a short name
  const widgets = client.namespace(namespace);

  const first = await widgets.get("first");
  const size = nested.integer(first, "spec", "size"); // { found: true, value } or why not
  console.log(`first size ${size.found ? size.value : "unset"}`);

  for await (const w of widgets.listAll({ labelSelector: "app=demo" })) console.log(`listed ${w.metadata.name}`);

  const { metadata } = await widgets.list({ limit: 1 });
  await widgets.patch("first", { spec: { size: 5 } }, "merge");
  for await (const event of widgets.watch({ resourceVersion: metadata.resourceVersion })) {
    if (event.type === "ERROR") throw event.error;
    console.log(`${event.type} ${event.object.metadata.name}`);
    if (event.type === "MODIFIED") break; // the patch above, seen through the watch
  }
} finally {
  await cluster.close();
}
