/**
 * The AIModelBinding controller: each binding becomes gateway routes `amb.NS.NAME.I` (one per `spec.routes[I]`) to its
 * target and fallback, and a key set `amb.NS.NAME` from its Secret. It follows the Secrets, AIModelDeployments,
 * LLMInvocationProfiles and Services bindings refer to, and applies everything again when the gateway restarted.
 */
import type { Store } from "../cache/store.js";
import type { GroupVersionResource } from "../client/gvr.js";
import {
  type Controller,
  type ControllerCluster,
  controller,
  type ReconcileContext,
} from "../controller/controller.js";
import { withFinalizer } from "../controller/finalizer.js";
import { anyOf, generationChanged, type Predicate } from "../controller/predicates.js";
import { done, type Request, type Result, requestFor } from "../controller/result.js";
import type { GatewayStateView } from "../gateway/admin.js";
import type { KeySetSpec, RateLimitSpec, RouteSpec, Source, TaskSpec, UpstreamSpec } from "../gateway/state.js";
import type { KubeObject } from "../object/types.js";
import { gatewayProblem, liveRoute, type Problem, reportLive, reportProblem, reportWaiting } from "./conditions.js";
import type { OperatorDeps } from "./deps.js";
import { keySetFromSecret } from "./keys.js";
import { gatewayFinalizer, gatewayName, operatorFieldManager } from "./names.js";
import {
  type AIModelBinding,
  type AIModelBindingSpec,
  type AIModelDeployment,
  aiResources,
  type BindingTarget,
  type Framework,
  type LLMInvocationProfile,
  type RateLimit,
} from "./types.js";

/** Core `v1/secrets`. */
export const secretsGvr: GroupVersionResource = { group: "", version: "v1", resource: "secrets" };
/** Core `v1/services`. */
export const servicesGvr: GroupVersionResource = { group: "", version: "v1", resource: "services" };

/** The container port of a framework's model server, when the AIModelDeployment names none. */
export const defaultModelPorts: Readonly<Record<Framework, number>> = {
  vllm: 8000,
  ollama: 11434,
  tgi: 80,
  custom: 8080,
};

/**
 * Passes what a reconcile acts on: spec changes and the start of a deletion; not the operator's own status writes or
 * finalizer edits, whose reconciles would only delay the next spec change's.
 */
export const specOrLifecycleChanged: Predicate = anyOf(
  generationChanged,
  (old, obj) => old?.metadata.deletionTimestamp !== obj?.metadata.deletionTimestamp,
);

/**
 * Passes the profile changes a binding depends on: its spec (templates), and its first time live; not the status writes
 * of its token totals, which come every second under traffic.
 */
const profileChanged: Predicate<LLMInvocationProfile> = (old, obj) =>
  !old ||
  !obj ||
  old.metadata.generation !== obj.metadata.generation ||
  old.metadata.deletionTimestamp !== obj.metadata.deletionTimestamp ||
  old.status?.observedGeneration !== obj.status?.observedGeneration;

/** A Duration of the Gateway API (`500ms`, `2s`, `1m30s`, `1h`) in milliseconds; undefined when it is none. */
export function parseDuration(text: string): number | undefined {
  if (!/^([0-9]{1,5}(h|ms|m|s)){1,4}$/.test(text)) return undefined;
  const unit: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
  let ms = 0;
  for (const m of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(m[1]) * (unit[m[2] as string] as number);
  return ms;
}

/** A rate limit as the gateway takes it: the burst defaults to the rate rounded up. */
export function limitSpec(limit: RateLimit): RateLimitSpec {
  return {
    requestsPerSecond: limit.requestsPerSecond,
    burst: limit.burst ?? Math.max(1, Math.ceil(limit.requestsPerSecond)),
  };
}

/** The route names of binding `name`: `amb.NS.NAME.I`. */
export function bindingRouteName(namespace: string, name: string, index: number): string {
  return `${gatewayName("amb", namespace, name)}.${index}`;
}

/** The binding a gateway route belongs to, from its name; undefined for another object's route. */
export function bindingOfRoute(route: string): Request | undefined {
  const m = /^amb\.([^.]+)\.(.+)\.(\d+)$/.exec(route);
  return m ? { namespace: m[1] as string, name: m[2] as string } : undefined;
}

/** The model server behind a target, and the model it serves when known. */
interface Upstream {
  readonly url: string;
  readonly model?: string | undefined;
}

/** The caches a binding's reconcile reads. */
interface Caches {
  readonly secrets: Store<KubeObject>;
  readonly services: Store<KubeObject>;
  readonly deployments: Store<AIModelDeployment>;
  readonly profiles: Store<LLMInvocationProfile>;
}

function resolveTarget(
  target: BindingTarget,
  namespace: string,
  caches: Caches,
  deps: OperatorDeps,
  what: string,
): Upstream | Problem {
  if (target.deploymentRef) {
    const name = target.deploymentRef.name;
    const deployment = caches.deployments.getByName(namespace, name);
    if (!deployment || deployment.metadata.deletionTimestamp) {
      return { reason: "DeploymentNotFound", message: `${what}: AIModelDeployment ${name} does not exist` };
    }
    const port = deployment.spec.port ?? defaultModelPorts[deployment.spec.framework ?? "vllm"];
    return { url: deps.serviceUrl(namespace, name, port), model: deployment.spec.model?.name };
  }
  if (target.serviceRef) {
    const { name, port } = target.serviceRef;
    if (!caches.services.getByName(namespace, name)) {
      return { reason: "ServiceNotFound", message: `${what}: Service ${name} does not exist` };
    }
    return { url: deps.serviceUrl(namespace, name, port) };
  }
  if (target.url) return { url: target.url };
  return { reason: "InvalidSpec", message: `${what}: names no deploymentRef, serviceRef or url` };
}

const isProblem = (v: object): v is Problem => "reason" in v;

/** Whether `target` refers to the object `kind`/`name`. */
function refersTo(target: BindingTarget | undefined, kind: "deployment" | "service", name: string): boolean {
  return kind === "deployment" ? target?.deploymentRef?.name === name : target?.serviceRef?.name === name;
}

/** The bindings of `obj`'s namespace that `refers` says depend on it. */
function referrers(
  obj: KubeObject,
  bindings: Store<AIModelBinding>,
  refers: (b: AIModelBinding, name: string) => boolean,
): Request[] {
  const { namespace, name } = obj.metadata;
  if (!namespace || !name) return [];
  return bindings
    .listNamespace(namespace)
    .filter((b) => refers(b, name))
    .map(requestFor);
}

/**
 * `set` with each key limited to the routes whose `keys` name it (the gateway answers 403 on the others); unchanged
 * when no route names keys. A route naming a key the set does not hold is a problem: the Secret lacks it.
 */
function restrictKeys(
  set: KeySetSpec,
  routes: AIModelBindingSpec["routes"],
  namespace: string,
  name: string,
): { spec: KeySetSpec } | { problem: Problem } {
  if (routes.every((r) => r.keys === undefined)) return { spec: set };
  const held = new Set(set.keys.map((k) => k.id));
  const unknown = [...new Set(routes.flatMap((r) => r.keys ?? []))].filter((id) => !held.has(id));
  if (unknown.length > 0) {
    const message = `routes name API key ${unknown.join(", ")}, which the keys of authentication do not hold`;
    return { problem: { reason: "KeyNotFound", message } };
  }
  const keys = set.keys.map((k) => ({
    ...k,
    routes: routes.flatMap((r, i) =>
      r.keys === undefined || r.keys.includes(k.id) ? [bindingRouteName(namespace, name, i)] : [],
    ),
  }));
  return { spec: { ...set, keys } };
}

/**
 * Credentials that do not hold (the Secret or a key it should hold is missing): `revoke`, the binding's key set holding
 * no key, goes live before the binding is reported Degraded, so that its routes refuse every key (401). `routes`, the
 * binding's routes requiring that key set, replace those already live where they can be built: a route that was open
 * before `authentication` was added is closed as well.
 */
interface Revocation extends Problem {
  readonly revoke: KeySetSpec;
  readonly routes?: RouteSpec[] | undefined;
}

/** What a binding makes live, or why it cannot. */
interface Desired {
  readonly routes: RouteSpec[];
  readonly keySet: { readonly spec: KeySetSpec } | undefined;
  readonly target: Upstream;
  readonly fallback: Upstream | undefined;
}

function desired(
  binding: AIModelBinding,
  caches: Caches,
  deps: OperatorDeps,
): Desired | Problem | Revocation | "waiting" {
  const namespace = binding.metadata.namespace ?? "";
  const name = binding.metadata.name ?? "";
  const spec = binding.spec;
  const source: Source = { uid: binding.metadata.uid ?? "", generation: binding.metadata.generation ?? 0 };
  // Credentials first: removed ones stop working whatever else is wrong with the binding.
  const keySetName = gatewayName("amb", namespace, name);
  const auth = spec.authentication;
  const built = auth
    ? keySetFromSecret(keySetName, source, caches.secrets.getByName(namespace, auth.secretRef.name), auth)
    : undefined;
  const revoke: KeySetSpec = { name: keySetName, source, keys: [] };
  const keySet = built && !("problem" in built) ? restrictKeys(built.spec, spec.routes, namespace, name) : undefined;
  const revocation: Revocation | undefined =
    built && "problem" in built
      ? { reason: built.reason, message: built.problem, revoke }
      : keySet && "problem" in keySet
        ? { ...keySet.problem, revoke }
        : undefined;
  const target = resolveTarget(spec.target, namespace, caches, deps, "target");
  if (isProblem(target)) return revocation ?? target;
  const fallback = spec.fallback ? resolveTarget(spec.fallback, namespace, caches, deps, "fallback") : undefined;
  if (fallback && isProblem(fallback)) return revocation ?? fallback;
  let profile: string | undefined;
  let tasks: TaskSpec[] | undefined;
  if (spec.profileRef) {
    const found = caches.profiles.getByName(namespace, spec.profileRef.name);
    if (!found || found.metadata.deletionTimestamp) {
      return (
        revocation ?? {
          reason: "ProfileNotFound",
          message: `LLMInvocationProfile ${spec.profileRef.name} does not exist`,
        }
      );
    }
    // A route naming a profile the gateway does not hold yet would answer 5xx: wait until the profile was made live.
    if (found.status?.observedGeneration === undefined) return revocation ?? "waiting";
    profile = gatewayName("llmp", namespace, spec.profileRef.name);
    const templates = found.spec.promptTemplates ?? [];
    if (templates.length > 0) {
      tasks = templates.map((t) => ({ name: t.name, template: t.template, variables: t.variables ?? [] }));
    }
  }
  const timeouts: Record<string, number> = {};
  for (const [field, key] of [
    ["connect", "connectMs"],
    ["firstByte", "firstByteMs"],
    ["total", "totalMs"],
  ] as const) {
    const text = spec.timeouts?.[field];
    if (text === undefined) continue;
    const ms = parseDuration(text);
    if (ms === undefined || ms < 1) {
      const message = `timeouts.${field}: "${text}" is not a duration like 500ms, 2s or 1m`;
      return revocation ?? { reason: "InvalidSpec", message };
    }
    timeouts[key] = ms;
  }
  const kind = spec.provider ?? "openai";
  const upstreams: UpstreamSpec[] = [{ url: target.url, kind }, ...(fallback ? [{ url: fallback.url, kind }] : [])];
  const routes = spec.routes.map(
    (r, i): RouteSpec => ({
      name: bindingRouteName(namespace, name, i),
      source,
      match: {
        pathPrefix: r.path,
        ...(spec.host ? { host: spec.host } : {}),
        ...(r.methods && r.methods.length > 0 ? { methods: r.methods } : {}),
      },
      upstreams,
      ...(Object.keys(timeouts).length > 0 ? { timeouts } : {}),
      ...(auth ? { auth: { keySet: keySetName, header: (auth.header ?? "authorization").toLowerCase() } } : {}),
      ...(spec.rateLimit ? { limit: limitSpec(spec.rateLimit) } : {}),
      ...(profile ? { profile } : {}),
      ...(tasks ? { tasks } : {}),
    }),
  );
  if (revocation) return { ...revocation, routes };
  return { routes, keySet: keySet as { spec: KeySetSpec } | undefined, target, fallback };
}

/** The routes of a binding live in the gateway, beyond the first `keep` (all when 0): stale ones to delete. */
function liveRouteNames(state: GatewayStateView | undefined, binding: AIModelBinding, keep: number): string[] {
  const namespace = binding.metadata.namespace ?? "";
  const name = binding.metadata.name ?? "";
  const known = new Set<string>();
  for (const r of state?.routes ?? []) known.add(r.name);
  for (const r of binding.status?.routes ?? []) known.add(r.name);
  return [...known].filter((route) => {
    const owner = bindingOfRoute(route);
    if (owner?.namespace !== namespace || owner.name !== name) return false;
    return Number(route.slice(route.lastIndexOf(".") + 1)) >= keep;
  });
}

/** The breaker state the status shows of each route of a binding, by route name: that of its first upstream. */
function breakerStates(state: GatewayStateView | undefined): Map<string, string> {
  const states = new Map<string, string>();
  for (const r of state?.routes ?? []) {
    const first = r.upstreams[0]?.url;
    if (bindingOfRoute(r.name)) states.set(r.name, r.breakers.find((b) => b.url === first)?.state ?? "closed");
  }
  return states;
}

/**
 * The AIModelBinding controller on `cluster`: routes and key sets applied through `deps.driver`, status from the
 * gateway's answers and `deps.monitor`.
 */
export function aiModelBindingController(cluster: ControllerCluster, deps: OperatorDeps): Controller {
  const bindings = { ...aiResources.bindings, kind: "AIModelBinding", namespaced: true } as const;
  const reconcile = async (req: Request, ctx: ReconcileContext<AIModelBinding>): Promise<Result> => {
    const obj = ctx.get(req);
    if (!obj) return done();
    const caches: Caches = {
      secrets: ctx.cache(secretsGvr),
      services: ctx.cache(servicesGvr),
      deployments: ctx.cache<AIModelDeployment>(aiResources.deployments),
      profiles: ctx.cache<LLMInvocationProfile>(aiResources.profiles),
    };
    const result = await withFinalizer(
      ctx.primary,
      obj,
      gatewayFinalizer,
      {
        ensure: (binding) => ensure(binding, caches, ctx),
        cleanup: async (binding) => {
          const namespace = binding.metadata.namespace ?? "";
          const name = binding.metadata.name ?? "";
          const routes = new Set(liveRouteNames(deps.monitor.latest(), binding, 0));
          for (let i = 0; i < (binding.spec.routes?.length ?? 0); i++) routes.add(bindingRouteName(namespace, name, i));
          for (const route of routes) await deps.driver.deleteRoute(route);
          await deps.driver.deleteKeySet(gatewayName("amb", namespace, name));
          ctx.log("info", "gateway routes removed", { routes: routes.size });
        },
      },
      { fieldManager: operatorFieldManager, signal: ctx.signal },
    );
    return result ?? done();
  };

  const ensure = async (binding: AIModelBinding, caches: Caches, ctx: ReconcileContext<AIModelBinding>) => {
    const want = desired(binding, caches, deps);
    if (want === "waiting") {
      const profile = binding.spec.profileRef?.name ?? "";
      await reportWaiting(ctx, binding, "WaitingForProfile", `LLMInvocationProfile ${profile} is not live yet`);
      return done();
    }
    const gatewayFailed = async (err: unknown) => {
      const problem = gatewayProblem(err);
      await reportProblem(ctx, deps, binding, problem);
      if (problem.retry) throw err;
      return done();
    };
    if (isProblem(want)) {
      const revoked = "revoke" in want;
      if (revoked) {
        try {
          await deps.driver.applyKeySet(want.revoke);
          // Routes already live (in the gateway, or in status if the gateway's state lags) may be open, made before
          // authentication was added: they go live again requiring the empty key set, or, where they cannot be built
          // now, are deleted if open. Nothing new goes live.
          const state = deps.monitor.latest();
          const live = new Set([
            ...liveRouteNames(state, binding, 0),
            ...(binding.status?.routes ?? []).map((r) => r.name),
          ]);
          for (const route of want.routes ?? []) {
            if (live.delete(route.name)) await deps.driver.applyRoute(route);
          }
          for (const name of live) {
            if (state?.routes.some((r) => r.name === name && !r.auth)) await deps.driver.deleteRoute(name);
          }
        } catch (err) {
          return gatewayFailed(err);
        }
      }
      const noKeys = (status: Record<string, unknown>) => {
        status.keyIds = [];
      };
      await reportProblem(ctx, deps, binding, want, revoked ? noKeys : undefined);
      // Retrying cannot help: the watches on what is missing queue the binding again.
      return done();
    }
    try {
      if (want.keySet && "spec" in want.keySet) await deps.driver.applyKeySet(want.keySet.spec);
      for (const route of want.routes) await deps.driver.applyRoute(route);
      for (const stale of liveRouteNames(deps.monitor.latest(), binding, want.routes.length)) {
        await deps.driver.deleteRoute(stale);
      }
      if (!want.keySet && binding.status?.keyIds) {
        await deps.driver.deleteKeySet(
          gatewayName("amb", binding.metadata.namespace ?? "", binding.metadata.name ?? ""),
        );
      }
    } catch (err) {
      return gatewayFailed(err);
    }
    const state = deps.monitor.latest();
    const keyIds = want.keySet && "spec" in want.keySet ? want.keySet.spec.keys.map((k) => k.id) : undefined;
    await reportLive(ctx, binding, (status) => {
      status.routes = want.routes.map((r) => liveRoute(r, state));
      status.upstream = want.target.url;
      if (want.fallback) status.fallbackUpstream = want.fallback.url;
      else delete status.fallbackUpstream;
      if (keyIds) status.keyIds = keyIds;
      else delete status.keyIds;
    });
    return done();
  };

  return controller(cluster, {
    name: "aimodelbindings",
    concurrency: 4,
    namespace: deps.namespace,
    recorder: deps.recorder,
    fieldManager: operatorFieldManager,
  })
    .for<AIModelBinding>(bindings, { predicates: [specOrLifecycleChanged as Predicate<AIModelBinding>] })
    .watches<KubeObject>(secretsGvr, (secret, primary) =>
      referrers(secret, primary, (b, name) => b.spec.authentication?.secretRef.name === name),
    )
    .watches<KubeObject>(servicesGvr, (service, primary) =>
      referrers(
        service,
        primary,
        (b, name) => refersTo(b.spec.target, "service", name) || refersTo(b.spec.fallback, "service", name),
      ),
    )
    .watches<AIModelDeployment>(
      aiResources.deployments,
      (deployment, primary) =>
        referrers(
          deployment,
          primary,
          (b, name) => refersTo(b.spec.target, "deployment", name) || refersTo(b.spec.fallback, "deployment", name),
        ),
      // Its model and port are spec; its status (replicas) changes often and tells a binding nothing.
      { predicates: [generationChanged] },
    )
    .watches<LLMInvocationProfile>(
      aiResources.profiles,
      (profile, primary) => referrers(profile, primary, (b, name) => b.spec.profileRef?.name === name),
      { predicates: [profileChanged] },
    )
    .triggers((emit) => {
      let breakers = breakerStates(deps.monitor.latest());
      return deps.monitor.subscribe((change) => {
        const state = deps.monitor.latest();
        const now = breakerStates(state);
        if (change === "restart") emit("all");
        else {
          // Only the bindings whose status would show another breaker state (a new route's shows "closed" already).
          const changed = new Map<string, Request>();
          for (const route of new Set([...breakers.keys(), ...now.keys()])) {
            if ((breakers.get(route) ?? "closed") === (now.get(route) ?? "closed")) continue;
            const owner = bindingOfRoute(route);
            if (owner) changed.set(`${owner.namespace}/${owner.name}`, owner);
          }
          if (changed.size > 0) emit([...changed.values()]);
        }
        breakers = now;
      });
    })
    .reconcile(reconcile);
}
