/**
 * kindwatch: watch and act on every kind of Kubernetes resource, without generated types.
 *
 * @example
 * const cluster = connect();
 * const widgets = cluster.resource({ group: "example.com", version: "v1", resource: "widgets" }).namespace("default");
 * for await (const w of widgets.listAll()) console.log(w.metadata.name);
 */
export * from "./cache/index.js";
export * from "./client/index.js";
export * from "./config/index.js";
export { Cluster, type ConnectOptions, connect } from "./connect.js";
export * from "./discovery/index.js";
export * from "./http/index.js";
export * from "./object/index.js";
export * from "./watchall/index.js";
