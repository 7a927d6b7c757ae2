/**
 * The operator in one call: a Manager (leader election on a Lease, `/metrics`, `/healthz`, `/readyz`, tracing through
 * the global OpenTelemetry provider) running the AIModelDeployment, AIModelBinding and LLMInvocationProfile
 * controllers against one gateway, whose state a {@link PollingGatewayMonitor} follows.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { LoggerOption } from "../cache/log.js";
import type { Controller } from "../controller/controller.js";
import { EventRecorder } from "../controller/events.js";
import type { RestMapper } from "../discovery/mapper.js";
import { type GatewayDriver, HttpGatewayDriver } from "../gateway/driver.js";
import { jsonLogger } from "../manager/json-logger.js";
import { Manager, type ManagerCluster, type ManagerLeaderElection, type ManagerListen } from "../manager/manager.js";
import { aiModelBindingController } from "./binding.js";
import { aiModelDeploymentController } from "./deployment.js";
import type { OperatorDeps } from "./deps.js";
import { PollingGatewayMonitor } from "./monitor.js";
import { llmInvocationProfileController } from "./profile.js";
import { operatorLeaseName } from "./rbac.js";

/** The operator's controllers, by the kind they reconcile. */
export type OperatorController = "deployments" | "bindings" | "profiles";

/** What the operator needs of a cluster: a `Cluster` (from `connect`) is one. */
export interface OperatorCluster extends ManagerCluster {
  readonly mapper: RestMapper;
}

/** The gateway the operator drives: its admin API and token, or a driver of your own. */
export type OperatorGateway =
  | { readonly adminUrl: string; readonly token: string; readonly timeoutMs?: number | undefined }
  | { readonly driver: GatewayDriver };

/** Options of {@link startOperator}. */
export interface OperatorOptions {
  readonly cluster: OperatorCluster;
  readonly gateway: OperatorGateway;
  /** Watch one namespace only (default all). */
  readonly namespace?: string | undefined;
  /** Elect one active replica on the Lease `name` (default `kindwatch-operator`) in `namespace`; off by default. */
  readonly leaderElection?:
    | (Omit<ManagerLeaderElection, "name"> & { readonly name?: string | undefined })
    | false
    | undefined;
  /** Serve `/metrics`, `/healthz` and `/readyz` there (see {@link OperatorHandle.address}); none when undefined. */
  readonly listen?: ManagerListen | undefined;
  /** The URL of a Service's port, with `{name}`, `{namespace}` and `{port}` (default `http://{name}.{namespace}.svc:{port}`). */
  readonly serviceUrlTemplate?: string | undefined;
  /** How often the gateway's state is read (default 1000 ms). */
  readonly pollMs?: number | undefined;
  /** The controllers to run (default all three). */
  readonly controllers?: readonly OperatorController[] | undefined;
  /** Where the operator logs (default JSON lines on stderr); "none" for silence. Keys never reach it. */
  readonly logger?: LoggerOption | undefined;
}

/** A running operator. */
export interface OperatorHandle {
  readonly manager: Manager;
  readonly monitor: PollingGatewayMonitor;
  readonly driver: GatewayDriver;
  /** Where `/metrics`, `/healthz` and `/readyz` are served, once they are. */
  address(): { host: string; port: number } | undefined;
  /** Settles when the operator stopped: rejects with the manager's failure (`LeaderElectionLostError`: exit non-zero). */
  readonly done: Promise<void>;
  /** Stops: drains reconciles in flight, releases the Lease, stops polling; resolves once all of that is done. */
  stop(): Promise<void>;
}

/** The default of {@link OperatorOptions.serviceUrlTemplate}. */
export const defaultServiceUrlTemplate = "http://{name}.{namespace}.svc:{port}";

/** `template` as a function; throws a TypeError when it makes no http(s) URL. */
export function serviceUrlFrom(template: string): (namespace: string, name: string, port: number) => string {
  const fill = (namespace: string, name: string, port: number) =>
    template.replaceAll("{name}", name).replaceAll("{namespace}", namespace).replaceAll("{port}", String(port));
  let url: URL | undefined;
  try {
    url = new URL(fill("ns", "name", 8000));
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new TypeError(`service URL template ${JSON.stringify(template)} makes no http(s) URL`);
  }
  return fill;
}

/**
 * Starts the operator: the controllers run under a Manager until {@link OperatorHandle.stop}. A gateway that does not
 * answer yet is no failure: its objects are retried with backoff, and all applied again on its first answer.
 */
export async function startOperator(options: OperatorOptions): Promise<OperatorHandle> {
  const logger = options.logger ?? jsonLogger();
  // A driver made here is closed here; one passed in is the caller's.
  let own: HttpGatewayDriver | undefined;
  let driver: GatewayDriver;
  if ("driver" in options.gateway) driver = options.gateway.driver;
  else {
    own = new HttpGatewayDriver({
      url: options.gateway.adminUrl,
      token: options.gateway.token,
      timeoutMs: options.gateway.timeoutMs,
    });
    driver = own;
  }
  const serviceUrl = serviceUrlFrom(options.serviceUrlTemplate ?? defaultServiceUrlTemplate);
  const election = options.leaderElection
    ? { ...options.leaderElection, name: options.leaderElection.name ?? operatorLeaseName }
    : undefined;
  const identity = election?.identity ?? `${hostname()}_${randomUUID()}`;
  const stop = new AbortController();
  const monitor = new PollingGatewayMonitor(driver, { pollMs: options.pollMs, logger });
  const recorder = new EventRecorder(options.cluster.client, {
    reportingController: "ai.kindwatch.dev/kindwatch-operator",
    reportingInstance: identity,
    logger,
  });
  const deps: OperatorDeps = { driver, monitor, serviceUrl, recorder, namespace: options.namespace };
  const manager = new Manager(options.cluster, {
    leaderElection: election ? { ...election, identity } : false,
    listen: options.listen,
    logger,
  });
  const builders: Readonly<Record<OperatorController, () => Controller>> = {
    deployments: () => aiModelDeploymentController(options.cluster, deps),
    bindings: () => aiModelBindingController(options.cluster, deps),
    profiles: () => llmInvocationProfileController(options.cluster, deps),
  };
  for (const kind of options.controllers ?? (["deployments", "bindings", "profiles"] as const)) {
    manager.add(builders[kind]());
  }
  const polling = monitor.run(stop.signal);
  const done = manager.run(stop.signal).finally(async () => {
    stop.abort();
    await polling;
    await recorder.close();
    await own?.close();
  });
  // The caller awaits `done` or `stop`; a failure is theirs to see there, not an unhandled rejection.
  done.catch(() => {});
  if (options.listen) {
    let settled = false;
    const settle = () => {
      settled = true;
    };
    done.then(settle, settle);
    while (!manager.address() && !settled) await new Promise((resolve) => setTimeout(resolve, 5));
    // It could not listen (the address is in use): the caller hears it from here.
    if (settled && !manager.address()) await done;
  }
  return {
    manager,
    monitor,
    driver,
    address: () => manager.address(),
    done,
    stop: async () => {
      stop.abort();
      await done.catch(() => {});
    },
  };
}
