// Apply a manifest (a CRD and objects of it in one file) with server-side apply, then wait as `kubectl wait` does.
import { connect, waitForObject } from "kindwatch";

const namespace = process.argv[2] ?? "default";
const manifest = `
apiVersion: example.com/v1
kind: Task
metadata: {name: build}
spec: {command: make}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: build-settings}
data: {mode: fast}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {name: tasks.example.com}
spec:
  group: example.com
  scope: Namespaced
  names: {plural: tasks, singular: task, kind: Task}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {status: {}}
    schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}
`;

const cluster = connect();
try {
  // CRDs first, waited for until served; objects without a namespace go to `namespace`.
  const applied = await cluster.applyManifest(manifest, { fieldManager: "example", namespace });
  for (const { document, object } of applied)
    console.log(`applied ${document}: ${object.kind} ${object.metadata.name}`);

  const { client } = await cluster.lookup("tasks.example.com");
  const tasks = client.namespace(namespace);
  const complete = waitForObject(tasks, "build", "condition=Complete", { timeoutMs: 30_000 });
  // What a controller would do: report the task complete.
  const conditions = [{ type: "Complete", status: "True", reason: "Done" }];
  await tasks.patchStatus("build", { status: { phase: "Succeeded", conditions } }, "merge");
  console.log(`complete: ${(await complete)?.metadata.name}`);
  await waitForObject(tasks, "build", "jsonpath={.status.phase}=Succeeded", { timeoutMs: 0 }); // check once

  await tasks.delete("build");
  await waitForObject(tasks, "build", "delete", { timeoutMs: 30_000 });
  console.log("deleted: build");
} finally {
  await cluster.close();
}
