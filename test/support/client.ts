/** Connecting the library's own client to the test cluster. */
import { DynamicClient } from "../../src/client/resource.js";
import { loadConfig } from "../../src/config/index.js";
import { Transport, type TransportOptions } from "../../src/http/transport.js";

/** A transport and dynamic client for the kubeconfig at `path`; close the transport when done. */
export function clientFor(kubeconfig: string, options: TransportOptions = {}) {
  const transport = new Transport(loadConfig({ kubeconfig }), options);
  return { transport, client: new DynamicClient(transport) };
}

/** The core group's configmaps. */
export const configmaps = { group: "", version: "v1", resource: "configmaps" } as const;
/** The core group's namespaces. */
export const namespaces = { group: "", version: "v1", resource: "namespaces" } as const;
