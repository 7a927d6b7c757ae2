/**
 * The AIModelDeployment controller: a model becomes a Deployment and a Service it owns (server-side applied, so that
 * scaling, updates and garbage collection follow the custom resource), and, with an `endpoint`, a live gateway route
 * `amd.NS.NAME` with its key set. Ready is proven, never assumed: the replicas are ready and the gateway's admin API
 * answered the PUT of this generation.
 */
import { informerKey } from "../cache/factory.js";
import type { Store } from "../cache/store.js";
import type { GroupVersionResource } from "../client/gvr.js";
import type { ApplyObject } from "../client/resource.js";
import {
  type Controller,
  type ControllerCluster,
  type ControllerOptions,
  controller,
  type ReconcileContext,
} from "../controller/controller.js";
import { releaseFinalizer, withFinalizer } from "../controller/finalizer.js";
import { done, type Request, type Result, requestFor } from "../controller/result.js";
import { setStatus } from "../controller/status.js";
import type { KeySetSpec, RouteSpec, Source } from "../gateway/state.js";
import type { ConditionInput } from "../object/conditions.js";
import * as meta from "../object/meta.js";
import type { KubeObject } from "../object/types.js";
import { limitSpec } from "./binding.js";
import { breakerOf, gatewayProblem, liveRoute, type Problem as Unready } from "./conditions.js";
import type { OperatorDeps } from "./deps.js";
import { keySetFromSecret } from "./keys.js";
import { gatewayFinalizer, gatewayName, hardwareClassLabel, operatorFieldManager, workloadLabels } from "./names.js";
import {
  type AIModelDeployment,
  type AIModelDeploymentSpec,
  type AIModelDeploymentStatus,
  aiResources,
  type Framework,
} from "./types.js";

const deploymentsGvr: GroupVersionResource = { group: "apps", version: "v1", resource: "deployments" };
const servicesGvr: GroupVersionResource = { group: "", version: "v1", resource: "services" };
const secretsGvr: GroupVersionResource = { group: "", version: "v1", resource: "secrets" };

/** The container port of each framework when the spec names none. */
const defaultPorts: Readonly<Record<Framework, number>> = { vllm: 8000, ollama: 11434, tgi: 80, custom: 8080 };

/** Options of {@link aiModelDeploymentController}: the controller runtime's, bar what the operator fixes. */
export type DeploymentControllerOptions = Partial<Omit<ControllerOptions, "namespace" | "recorder" | "fieldManager">>;

/** Why an object is Degraded, and whether retrying with backoff may help. */
type Problem = Unready & { readonly retry: boolean };

/** What the owned Deployment reports. */
interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  readyReplicas?: number;
  updatedReplicas?: number;
}

/** The container port of a model. */
export function modelPort(spec: AIModelDeploymentSpec): number {
  return spec.port ?? defaultPorts[spec.framework ?? "vllm"];
}

/** The label selector of a model's Pods, as the scale subresource reports it. */
function selectorString(name: string): string {
  return Object.entries(workloadLabels(name))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
}

/** The model container: command line, environment and readiness probe by framework. */
function container(spec: AIModelDeploymentSpec, port: number): Record<string, unknown> {
  const framework = spec.framework ?? "vllm";
  const frameworkArgs: Record<Framework, string[]> = {
    vllm: ["--model", spec.model.name, "--port", String(port)],
    ollama: [],
    tgi: ["--model-id", spec.model.name, "--port", String(port)],
    custom: [],
  };
  const args = [...frameworkArgs[framework], ...(spec.args ?? [])];
  // The spec's env wins over the framework's: env is a map keyed by name under server-side apply.
  const env = new Map<string, string>(framework === "ollama" ? [["OLLAMA_HOST", `0.0.0.0:${port}`]] : []);
  for (const e of spec.env ?? []) env.set(e.name, e.value);
  const amounts: Record<string, string> = {};
  if (spec.resources?.cpu) amounts.cpu = String(spec.resources.cpu);
  if (spec.resources?.memory) amounts.memory = String(spec.resources.memory);
  if ((spec.resources?.gpu ?? 0) > 0) amounts["nvidia.com/gpu"] = String(spec.resources?.gpu);
  const probePath = framework === "vllm" || framework === "tgi" ? "/health" : framework === "ollama" ? "/" : undefined;
  return {
    name: "model",
    image: spec.image,
    ...(args.length > 0 ? { args } : {}),
    ...(env.size > 0 ? { env: [...env].map(([name, value]) => ({ name, value })) } : {}),
    ports: [{ name: "http", containerPort: port, protocol: "TCP" }],
    ...(Object.keys(amounts).length > 0 ? { resources: { requests: amounts, limits: amounts } } : {}),
    ...(probePath ? { readinessProbe: { httpGet: { path: probePath, port: "http" } } } : {}),
  };
}

/** The Deployment of a model, as applied. */
function deploymentOf(amd: AIModelDeployment, port: number): ApplyObject {
  const name = meta.name(amd) ?? "";
  const labels = workloadLabels(name);
  const { spec } = amd;
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name, labels },
    spec: {
      replicas: spec.replicas ?? 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          containers: [container(spec, port)],
          ...(spec.hardwareClass ? { nodeSelector: { [hardwareClassLabel]: spec.hardwareClass } } : {}),
        },
      },
    },
  };
}

/** The Service of a model, as applied. */
function serviceOf(amd: AIModelDeployment, port: number): ApplyObject {
  const name = meta.name(amd) ?? "";
  const labels = workloadLabels(name);
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, labels },
    spec: { selector: labels, ports: [{ name: "http", port, targetPort: port, protocol: "TCP" }] },
  };
}

/** The gateway route of a model's endpoint. */
function routeOf(amd: AIModelDeployment, name: string, source: Source, upstream: string): RouteSpec | undefined {
  const endpoint = amd.spec.endpoint;
  if (!endpoint) return undefined;
  const limit = endpoint.rateLimit;
  const auth = endpoint.authentication;
  return {
    name,
    source,
    match: { pathPrefix: endpoint.path, methods: endpoint.methods ?? ["POST"] },
    upstreams: [{ url: upstream, kind: "openai" }],
    ...(limit ? { limit: limitSpec(limit) } : {}),
    ...(auth ? { auth: { keySet: name, ...(auth.header ? { header: auth.header } : {}) } } : {}),
  };
}

/** The primary cache the controller holds (shared through the factory), for the gateway's changes (a trigger has none). */
function primaryStore(cluster: ControllerCluster, namespace: string | undefined): Store<AIModelDeployment> | undefined {
  const key = informerKey({ gvr: aiResources.deployments, namespace });
  const held = cluster.informers.held().find((h) => informerKey(h.request) === key);
  return held?.informer.store as Store<AIModelDeployment> | undefined;
}

/** The AIModelDeployments of `secret`'s namespace whose endpoint takes its keys from it. */
function usersOf(store: Store<AIModelDeployment> | undefined, secret: KubeObject): Request[] {
  const namespace = meta.namespace(secret);
  if (!store || !namespace) return [];
  return store
    .listNamespace(namespace)
    .filter((amd) => amd.spec?.endpoint?.authentication?.secretRef?.name === meta.name(secret))
    .map(requestFor);
}

/**
 * The AIModelDeployment controller (see the module's comment): `for` AIModelDeployments, owning Deployments and
 * Services, watching the Secrets endpoints take keys from, and applying everything again when the gateway restarted.
 */
export function aiModelDeploymentController(
  cluster: ControllerCluster,
  deps: OperatorDeps,
  options: DeploymentControllerOptions = {},
): Controller {
  const namespace = deps.namespace;
  const statusOptions = (ctx: ReconcileContext<AIModelDeployment>) => ({
    fieldManager: operatorFieldManager,
    subresource: true,
    signal: ctx.signal,
  });

  /** Removes what the endpoint made live: the route first, so that no request meets a route without its keys. */
  const removeGateway = async (name: string) => {
    await deps.driver.deleteRoute(name);
    await deps.driver.deleteKeySet(name);
  };

  /** Makes the endpoint live; returns the route put, or the problem that stopped it. */
  const expose = async (
    ctx: ReconcileContext<AIModelDeployment>,
    amd: AIModelDeployment,
    name: string,
    upstream: string,
  ): Promise<{ route: RouteSpec } | { problem: Problem }> => {
    const source: Source = { uid: meta.uid(amd) ?? "", generation: meta.generation(amd) ?? 0 };
    const route = routeOf(amd, name, source, upstream) as RouteSpec;
    const auth = amd.spec.endpoint?.authentication;
    let keySet: KeySetSpec | undefined;
    if (auth) {
      const secretNamespace = meta.namespace(amd) ?? "";
      const secret = ctx.cache(secretsGvr).getByName(secretNamespace, auth.secretRef.name);
      const built = keySetFromSecret(name, source, secret, auth);
      if ("problem" in built) {
        // Credentials removed stop working at once: the route's key set goes live with no key (401 for every one).
        try {
          await deps.driver.applyKeySet({ name, source, keys: [] });
        } catch (err) {
          return { problem: gatewayProblem(err) };
        }
        return { problem: { reason: built.reason, message: built.problem, retry: false } };
      }
      keySet = built.spec;
    }
    try {
      // Keys before the route that needs them; a key set no route names any more goes after it.
      if (keySet) await deps.driver.applyKeySet(keySet);
      await deps.driver.applyRoute(route);
      if (!keySet) await deps.driver.deleteKeySet(name);
    } catch (err) {
      return { problem: gatewayProblem(err) };
    }
    return { route };
  };

  /** Applies the workload and the endpoint of a live object, then writes what is live into its status. */
  const ensure = async (ctx: ReconcileContext<AIModelDeployment>, amd: AIModelDeployment): Promise<Result> => {
    const name = meta.name(amd) ?? "";
    const ns = meta.namespace(amd) ?? "";
    const port = modelPort(amd.spec);
    const applied = await ctx.apply(deploymentOf(amd, port), { owner: amd });
    await ctx.apply(serviceOf(amd, port), { owner: amd });
    const serviceUrl = deps.serviceUrl(ns, name, port);
    const gateway = amd.spec.endpoint ? await expose(ctx, amd, gatewayName("amd", ns, name), serviceUrl) : undefined;

    const workload = (applied as { status?: DeploymentStatus }).status ?? {};
    const wanted = amd.spec.replicas ?? 1;
    const ready = workload.readyReplicas ?? 0;
    const rolledOut =
      (workload.observedGeneration ?? 0) >= (meta.generation(applied) ?? 0) &&
      (workload.updatedReplicas ?? 0) >= wanted &&
      ready >= wanted;
    const generation = meta.generation(amd) ?? 0;
    const problem = gateway && "problem" in gateway ? gateway.problem : undefined;
    const route = gateway && "route" in gateway ? gateway.route : undefined;
    const conditions: ConditionInput[] = problem
      ? [
          { type: "Ready", status: "False", reason: problem.reason, message: problem.message },
          { type: "Reconciling", status: "False", reason: problem.reason, message: "waiting for a change" },
          { type: "Degraded", status: "True", reason: problem.reason, message: problem.message },
        ]
      : [
          rolledOut
            ? { type: "Ready", status: "True", reason: "Ready", message: `${ready}/${wanted} replicas ready` }
            : {
                type: "Ready",
                status: "False",
                reason: "ReplicasNotReady",
                message: `${ready}/${wanted} replicas ready`,
              },
          rolledOut
            ? { type: "Reconciling", status: "False", reason: "Ready", message: "" }
            : {
                type: "Reconciling",
                status: "True",
                reason: "ReplicasNotReady",
                message: `${ready}/${wanted} replicas ready`,
              },
          { type: "Degraded", status: "False", reason: "AsExpected", message: "" },
        ];
    if (problem) {
      ctx.recorder?.record(amd, {
        type: "Warning",
        reason: problem.reason,
        action: "Reconcile",
        note: problem.message,
      });
      ctx.log("warn", "model deployment degraded", { reason: problem.reason });
    }
    await setStatus(
      ctx.primary,
      amd,
      {
        // Each condition tells the generation it was computed from: after a Conflict, setStatus edits a fresher object,
        // whose generation this reconcile has not made live.
        conditions: conditions.map((c) => ({ ...c, observedGeneration: generation })),
        observedGeneration: false,
        edit: (obj) => {
          obj.status ??= {};
          const status: AIModelDeploymentStatus = obj.status;
          // The generation made live: not one the gateway has not taken.
          if (!problem) status.observedGeneration = generation;
          status.replicas = workload.replicas ?? 0;
          status.readyReplicas = ready;
          status.selector = selectorString(name);
          status.serviceUrl = serviceUrl;
          if (route) status.route = liveRoute(route, deps.monitor.latest());
          else if (!amd.spec.endpoint) delete status.route;
        },
      },
      statusOptions(ctx),
    );
    if (problem?.retry) throw new Error(problem.message);
    // Replicas not ready yet: the owned Deployment's status changes queue this object again.
    return done();
  };

  return controller(cluster, {
    name: "aimodeldeployments",
    concurrency: 4,
    ...options,
    namespace,
    recorder: deps.recorder,
    fieldManager: operatorFieldManager,
  })
    .for<AIModelDeployment>(aiResources.deployments)
    .owns(deploymentsGvr)
    .owns(servicesGvr)
    .watches(secretsGvr, (secret, primary) => usersOf(primary, secret))
    .triggers((emit) =>
      deps.monitor.subscribe((change) => {
        if (change === "restart") {
          emit("all");
          return;
        }
        // Breaker states show in status: only objects whose live route changed are queued.
        const store = primaryStore(cluster, namespace);
        const changed = (store?.list() ?? []).filter((amd) => {
          const shown = amd.status?.route;
          if (!shown || !amd.spec?.endpoint) return false;
          return breakerOf(deps.monitor.latest(), shown.name, shown.upstream) !== shown.breaker;
        });
        if (changed.length > 0) emit(changed.map(requestFor));
      }),
    )
    .reconcile(async (req, ctx) => {
      const amd = ctx.get(req);
      if (!amd) return done();
      const name = gatewayName("amd", meta.namespace(amd) ?? "", meta.name(amd) ?? "");
      const cleanup = () => removeGateway(name);
      if (meta.isBeingDeleted(amd)) {
        await withFinalizer(
          ctx.primary,
          amd,
          gatewayFinalizer,
          { ensure: async () => undefined, cleanup },
          { fieldManager: operatorFieldManager, signal: ctx.signal },
        );
        return done();
      }
      if (!amd.spec?.endpoint) {
        if (meta.hasFinalizer(amd, gatewayFinalizer)) {
          await cleanup();
          const released = await releaseFinalizer(ctx.primary, amd, gatewayFinalizer, {
            fieldManager: operatorFieldManager,
            signal: ctx.signal,
          });
          if (!released) return done();
          return ensure(ctx, released);
        }
        return ensure(ctx, amd);
      }
      const result = await withFinalizer(
        ctx.primary,
        amd,
        gatewayFinalizer,
        { ensure: (obj) => ensure(ctx, obj), cleanup },
        { fieldManager: operatorFieldManager, signal: ctx.signal },
      );
      return result ?? done();
    });
}
