/** Writing kubeconfigs for test users, and reading back the little the harness needs from an existing one. */
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { parse, stringify } from "yaml";
import { definedProps } from "../util/defined.js";
import type { Credentials } from "./request.js";

/** A kubeconfig with one cluster, one user and one context, as YAML. */
export function kubeconfigYaml(opts: {
  server: string;
  credentials: Credentials;
  userName: string;
  contextName?: string | undefined;
  namespace?: string | undefined;
}): string {
  const b64 = (pem: string) => Buffer.from(pem).toString("base64");
  const context = opts.contextName ?? "kindwatch-test";
  const { caPem, certPem, keyPem, token } = opts.credentials;
  const user: Record<string, string> = {};
  if (certPem && keyPem) {
    user["client-certificate-data"] = b64(certPem);
    user["client-key-data"] = b64(keyPem);
  }
  if (token) user.token = token;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: context,
        cluster: { server: opts.server, "certificate-authority-data": caPem ? b64(caPem) : undefined },
      },
    ],
    users: [{ name: opts.userName, user }],
    contexts: [
      {
        name: context,
        context: { cluster: context, user: opts.userName, namespace: opts.namespace || undefined },
      },
    ],
    "current-context": context,
  });
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function named(list: unknown, name: unknown, field: string): Record<string, unknown> {
  const entries = Array.isArray(list) ? list.map(record) : [];
  return record(entries.find((e) => e.name === name)?.[field]);
}

/**
 * The server and credentials of a kubeconfig's current context. Only inline or file certificates and static tokens:
 * the harness uses this to attach to a cluster it is pointed at, not as the library's kubeconfig loader.
 */
export function readKubeconfigCredentials(path: string): { server: string; credentials: Credentials } {
  const doc = record(parse(readFileSync(path, "utf8")));
  const context = named(doc.contexts, doc["current-context"], "context");
  const cluster = named(doc.clusters, context.cluster, "cluster");
  const user = named(doc.users, context.user, "user");
  const base = dirname(resolve(path));
  const pem = (data: unknown, file: unknown): string | undefined => {
    if (typeof data === "string") return Buffer.from(data, "base64").toString("utf8");
    if (typeof file === "string") return readFileSync(resolve(base, file), "utf8");
    return undefined;
  };
  if (typeof cluster.server !== "string") {
    throw new Error(`${path}: the current context names no cluster with a server; check 'current-context'`);
  }
  const caPem = pem(cluster["certificate-authority-data"], cluster["certificate-authority"]);
  const certPem = pem(user["client-certificate-data"], user["client-certificate"]);
  const keyPem = pem(user["client-key-data"], user["client-key"]);
  const token = typeof user.token === "string" ? user.token : undefined;
  return {
    server: cluster.server,
    credentials: definedProps({
      caPem: caPem || undefined,
      certPem: certPem || undefined,
      keyPem: keyPem || undefined,
      token: token || undefined,
    }),
  };
}
