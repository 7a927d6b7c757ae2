/**
 * The LLMInvocationProfile controller: each profile becomes the gateway profile `llmp.NS.NAME` (model, parameters and
 * their bounds, system prompt, history, token budget), whose token totals it reports in status. A profile's model must
 * be served in its namespace: the `model` of an AIModelBinding or `spec.model.name` of an AIModelDeployment.
 */
import { isDeepStrictEqual } from "node:util";
import type { Store } from "../cache/store.js";
import {
  type Controller,
  type ControllerCluster,
  controller,
  type ReconcileContext,
} from "../controller/controller.js";
import { withFinalizer } from "../controller/finalizer.js";
import { generationChanged, type Predicate } from "../controller/predicates.js";
import { done, type Request, type Result, requestFor } from "../controller/result.js";
import type { GatewayStateView } from "../gateway/admin.js";
import type { ProfileSpec } from "../gateway/state.js";
import type { KubeObject } from "../object/types.js";
import { specOrLifecycleChanged } from "./binding.js";
import { gatewayProblem, reportLive, reportProblem } from "./conditions.js";
import type { OperatorDeps } from "./deps.js";
import { profileUsage } from "./monitor.js";
import { gatewayFinalizer, gatewayName, operatorFieldManager } from "./names.js";
import {
  type AIModelBinding,
  type AIModelDeployment,
  aiResources,
  type LLMInvocationProfile,
  type TokenUsage,
} from "./types.js";

/** The gateway profile of an LLMInvocationProfile. */
export function profileSpec(profile: LLMInvocationProfile): ProfileSpec {
  const { metadata, spec } = profile;
  const p = spec.parameters;
  const b = spec.bounds;
  const context = spec.context;
  const defined = <T extends Record<string, unknown>>(o: T) =>
    Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
  const params = p && defined({ temperature: p.temperature, top_p: p.topP, max_tokens: p.maxTokens, stop: p.stop });
  const bounds =
    b &&
    defined({
      temperature: b.temperature ? ([b.temperature.min, b.temperature.max] as const) : undefined,
      top_p: b.topP ? ([b.topP.min, b.topP.max] as const) : undefined,
      max_tokens: b.maxTokens,
    });
  const history = context?.history;
  return defined({
    name: gatewayName("llmp", metadata.namespace ?? "", metadata.name ?? ""),
    source: { uid: metadata.uid ?? "", generation: metadata.generation ?? 0 },
    model: spec.model,
    params: params && Object.keys(params).length > 0 ? params : undefined,
    bounds: bounds && Object.keys(bounds).length > 0 ? bounds : undefined,
    protocol: context?.protocol,
    systemPrompt: context?.systemPrompt,
    history: history
      ? defined({
          retention: history.retention ?? "none",
          ttlSeconds: history.ttlSeconds,
          maxTurns: history.maxTurns,
          header: history.header,
        })
      : undefined,
    tokensPerMinute: spec.tokenBudget?.tokensPerMinute,
  }) as ProfileSpec;
}

/** The profile a gateway profile name belongs to; undefined for another name. */
export function profileOfGatewayName(name: string): Request | undefined {
  const m = /^llmp\.([^.]+)\.(.+)$/.exec(name);
  return m ? { namespace: m[1] as string, name: m[2] as string } : undefined;
}

/** The token totals the gateway reports for `gatewayProfile`, since its boot; undefined before its first answer. */
export function usageOf(state: GatewayStateView | undefined, gatewayProfile: string): TokenUsage | undefined {
  if (!state) return undefined;
  const found = profileUsage(state).find((u) => u.name === gatewayProfile);
  // Key ids are unique within a key set; the bindings using one profile may have key sets with the same ids.
  const byKey = new Map<string, { keyId: string; inputTokens: number; outputTokens: number }>();
  for (const k of found?.byKey ?? []) {
    const sum = byKey.get(k.keyId) ?? { keyId: k.keyId, inputTokens: 0, outputTokens: 0 };
    sum.inputTokens += k.inputTokens;
    sum.outputTokens += k.outputTokens;
    byKey.set(k.keyId, sum);
  }
  return {
    inputTokens: found?.inputTokens ?? 0,
    outputTokens: found?.outputTokens ?? 0,
    ...(byKey.size > 0 ? { byKey: [...byKey.values()] } : {}),
    gatewayBootId: state.bootId,
  };
}

/** Whether `model` is served in `namespace` by a binding or a deployment. */
function served(
  model: string,
  namespace: string,
  bindings: Store<AIModelBinding>,
  deployments: Store<AIModelDeployment>,
): boolean {
  const live = (o: KubeObject) => !o.metadata.deletionTimestamp;
  return (
    bindings.listNamespace(namespace).some((b) => live(b) && b.spec.model === model) ||
    deployments.listNamespace(namespace).some((d) => live(d) && d.spec.model?.name === model)
  );
}

/** Every profile of `obj`'s namespace: whether its model is served may have changed. */
function profilesOfNamespace(obj: KubeObject, profiles: Store<LLMInvocationProfile>): Request[] {
  const namespace = obj.metadata.namespace;
  return namespace ? profiles.listNamespace(namespace).map(requestFor) : [];
}

/** The usage totals by gateway profile name, to tell which profiles' status would change. */
function usageByProfile(state: GatewayStateView | undefined): Map<string, unknown> {
  return new Map(profileUsage(state).map((u) => [u.name, u]));
}

/** The LLMInvocationProfile controller on `cluster`: profiles applied through `deps.driver`, usage from `deps.monitor`. */
export function llmInvocationProfileController(cluster: ControllerCluster, deps: OperatorDeps): Controller {
  const profiles = { ...aiResources.profiles, kind: "LLMInvocationProfile", namespaced: true } as const;

  const ensure = async (profile: LLMInvocationProfile, ctx: ReconcileContext<LLMInvocationProfile>) => {
    const namespace = profile.metadata.namespace ?? "";
    const bindings = ctx.cache<AIModelBinding>(aiResources.bindings);
    const deployments = ctx.cache<AIModelDeployment>(aiResources.deployments);
    if (!served(profile.spec.model, namespace, bindings, deployments)) {
      await reportProblem(ctx, deps, profile, {
        reason: "UnknownModel",
        message: `no AIModelBinding or AIModelDeployment of namespace ${namespace} serves model ${profile.spec.model}`,
      });
      return done();
    }
    const spec = profileSpec(profile);
    try {
      await deps.driver.applyProfile(spec);
    } catch (err) {
      const problem = gatewayProblem(err);
      await reportProblem(ctx, deps, profile, problem);
      if (problem.retry) throw err;
      return done();
    }
    const usage = usageOf(deps.monitor.latest(), spec.name);
    await reportLive(ctx, profile, (status) => {
      status.gatewayProfile = spec.name;
      if (usage) status.usage = usage;
    });
    return done();
  };

  const reconcile = async (req: Request, ctx: ReconcileContext<LLMInvocationProfile>): Promise<Result> => {
    const obj = ctx.get(req);
    if (!obj) return done();
    const result = await withFinalizer(
      ctx.primary,
      obj,
      gatewayFinalizer,
      {
        ensure: (profile) => ensure(profile, ctx),
        cleanup: async (profile) => {
          await deps.driver.deleteProfile(
            gatewayName("llmp", profile.metadata.namespace ?? "", profile.metadata.name ?? ""),
          );
        },
      },
      { fieldManager: operatorFieldManager, signal: ctx.signal },
    );
    return result ?? done();
  };

  return controller(cluster, {
    name: "llminvocationprofiles",
    concurrency: 4,
    namespace: deps.namespace,
    recorder: deps.recorder,
    fieldManager: operatorFieldManager,
  })
    .for<LLMInvocationProfile>(profiles, { predicates: [specOrLifecycleChanged as Predicate<LLMInvocationProfile>] })
    .watches<AIModelBinding>(aiResources.bindings, profilesOfNamespace, { predicates: [generationChanged] })
    .watches<AIModelDeployment>(aiResources.deployments, profilesOfNamespace, { predicates: [generationChanged] })
    .triggers((emit) => {
      let usage = usageByProfile(deps.monitor.latest());
      return deps.monitor.subscribe((change) => {
        const now = usageByProfile(deps.monitor.latest());
        if (change === "restart") emit("all");
        else {
          const changed: Request[] = [];
          for (const name of new Set([...usage.keys(), ...now.keys()])) {
            const owner = profileOfGatewayName(name);
            if (owner && !isDeepStrictEqual(usage.get(name), now.get(name))) changed.push(owner);
          }
          if (changed.length > 0) emit(changed);
        }
        usage = now;
      });
    })
    .reconcile(reconcile);
}
