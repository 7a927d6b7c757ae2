/**
 * The status every operator kind reports: `Ready` once the gateway confirmed a generation live, `Reconciling` while
 * waiting, `Degraded` with a reason (and a Warning Event when it starts) when a dependency or the gateway is wrong.
 */
import type { ReconcileContext } from "../controller/controller.js";
import { setStatus } from "../controller/status.js";
import type { GatewayStateView } from "../gateway/admin.js";
import { GatewayDriverError } from "../gateway/driver.js";
import type { RouteSpec } from "../gateway/state.js";
import type { Condition, KubeObject } from "../object/types.js";
import type { OperatorDeps } from "./deps.js";
import { operatorFieldManager } from "./names.js";
import type { LiveRoute } from "./types.js";

/** Why an object is Degraded. */
export type DegradedReason =
  | "SecretNotFound"
  | "KeyNotFound"
  | "DeploymentNotFound"
  | "ServiceNotFound"
  | "ProfileNotFound"
  | "UnknownModel"
  | "InvalidSpec"
  | "GatewayRejected"
  | "GatewayUnavailable";

/** Something that keeps an object from going live: the message names objects, never a key. */
export interface Problem {
  readonly reason: DegradedReason;
  readonly message: string;
}

type StatusEdit<T> = (status: Record<string, unknown>, obj: T) => void;

function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  const status = (obj as { status?: { conditions?: Condition[] } }).status;
  return status?.conditions?.find((c) => c.type === type);
}

async function write<T extends KubeObject>(
  ctx: ReconcileContext<T>,
  obj: T,
  conditions: { type: string; status: "True" | "False"; reason: string; message: string }[],
  edit: StatusEdit<T> | undefined,
  observedGeneration: number | undefined,
): Promise<void> {
  const generation = obj.metadata.generation;
  await setStatus(
    ctx.primary,
    obj,
    {
      conditions: conditions.map((c) => ({ ...c, observedGeneration: generation })),
      // What is live, not what was last seen: set to the generation this reconcile applied, even after a Conflict.
      observedGeneration: false,
      edit: (o) => {
        const target = o as { status?: Record<string, unknown> };
        target.status ??= {};
        if (observedGeneration !== undefined) target.status.observedGeneration = observedGeneration;
        edit?.(target.status, o);
      },
    },
    { fieldManager: operatorFieldManager, subresource: true, signal: ctx.signal },
  );
}

/** `obj`'s generation is live in the gateway: Ready, with `edit` filling in what is live. */
export function reportLive<T extends KubeObject>(ctx: ReconcileContext<T>, obj: T, edit: StatusEdit<T>): Promise<void> {
  const generation = obj.metadata.generation ?? 0;
  const message = `generation ${generation} is live in the gateway`;
  return write(
    ctx,
    obj,
    [
      { type: "Ready", status: "True", reason: "Live", message },
      { type: "Reconciling", status: "False", reason: "Live", message },
      { type: "Degraded", status: "False", reason: "Live", message },
    ],
    edit,
    generation,
  );
}

/** `obj` waits for something that will re-queue it when it changes. */
export function reportWaiting<T extends KubeObject>(
  ctx: ReconcileContext<T>,
  obj: T,
  reason: string,
  message: string,
): Promise<void> {
  return write(
    ctx,
    obj,
    [
      { type: "Ready", status: "False", reason, message },
      { type: "Reconciling", status: "True", reason, message },
      { type: "Degraded", status: "False", reason, message },
    ],
    undefined,
    undefined,
  );
}

/**
 * `obj` cannot go live: Degraded with the problem's reason, and a Warning Event when it was not Degraded for that
 * reason already (a repeat is no news). What was live before stays live, but for revoked credentials, which `edit`
 * shows.
 */
export async function reportProblem<T extends KubeObject>(
  ctx: ReconcileContext<T>,
  deps: OperatorDeps,
  obj: T,
  problem: Problem,
  edit?: StatusEdit<T>,
): Promise<void> {
  const degraded = conditionOf(obj, "Degraded");
  const known =
    degraded?.status === "True" &&
    degraded.reason === problem.reason &&
    degraded.message === problem.message &&
    degraded.observedGeneration === obj.metadata.generation;
  if (!known) {
    deps.recorder?.record(obj, { type: "Warning", reason: problem.reason, action: "Reconcile", note: problem.message });
  }
  ctx.log("warn", "cannot make the object live", { reason: problem.reason, problem: problem.message });
  await write(
    ctx,
    obj,
    [
      { type: "Ready", status: "False", reason: problem.reason, message: problem.message },
      { type: "Reconciling", status: "False", reason: problem.reason, message: problem.message },
      { type: "Degraded", status: "True", reason: problem.reason, message: problem.message },
    ],
    edit,
    undefined,
  );
}

/**
 * What a gateway failure means: a refusal (a 4xx other than a 409 conflict: the object is wrong, retrying cannot help,
 * it waits for a change) or an outage (anything else: retried with backoff).
 */
export function gatewayProblem(err: unknown): Problem & { readonly retry: boolean } {
  if (err instanceof GatewayDriverError && err.status >= 400 && err.status < 500 && err.status !== 409) {
    return { reason: "GatewayRejected", message: `the gateway refused it: ${err.message}`, retry: false };
  }
  return {
    reason: "GatewayUnavailable",
    message: `the gateway did not apply it: ${err instanceof Error ? err.message : String(err)}`,
    retry: true,
  };
}

/** The state of the circuit breaker of `upstream` on route `name`, as the gateway last reported it (closed till then). */
export function breakerOf(state: GatewayStateView | undefined, name: string, upstream: string): string {
  const view = state?.routes.find((r) => r.name === name);
  return view?.breakers.find((b) => b.url === upstream)?.state ?? "closed";
}

/** A route as a status shows it: its first upstream, and that one's breaker. */
export function liveRoute(route: RouteSpec, state: GatewayStateView | undefined): LiveRoute {
  const upstream = route.upstreams[0]?.url ?? "";
  return {
    name: route.name,
    pathPrefix: route.match.pathPrefix,
    upstream,
    breaker: breakerOf(state, route.name, upstream),
  };
}
