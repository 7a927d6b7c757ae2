/**
 * The AI-model operator's custom resources (`ai.kindwatch.dev/v1alpha1`), as plain JSON: these interfaces mirror the
 * CRDs' OpenAPI schemas in `deploy/crds/`, after the API server applied their defaults.
 */
import type { Condition, KubeObject } from "../object/types.js";

/** The API group and version of the operator's kinds. */
export const aiGroup = "ai.kindwatch.dev";
/** The served version. */
export const aiVersion = "v1alpha1";
/** `apiVersion` of the operator's objects. */
export const aiApiVersion = `${aiGroup}/${aiVersion}`;

/** The operator's kinds as GroupVersionResources. */
export const aiResources = {
  deployments: { group: aiGroup, version: aiVersion, resource: "aimodeldeployments" },
  bindings: { group: aiGroup, version: aiVersion, resource: "aimodelbindings" },
  profiles: { group: aiGroup, version: aiVersion, resource: "llminvocationprofiles" },
} as const;

/** Requests per second with a burst (a token bucket). */
export interface RateLimit {
  requestsPerSecond: number;
  /** Default: requestsPerSecond rounded up. */
  burst?: number;
}

/** API keys: every data key of the Secret (or only `keys`) is one API key; the data key's name is its key id. */
export interface Authentication {
  secretRef: { name: string };
  /** Only these data keys of the Secret (default all of them). */
  keys?: string[];
  /** The header that carries the key (default `authorization`, as `Bearer KEY`; any other header carries the bare key). */
  header: string;
}

/** The status every kind shares. */
export interface AIStatusBase {
  observedGeneration?: number;
  /** `Ready`, `Reconciling`, `Degraded`, each with reason and message. */
  conditions?: Condition[];
}

/** What a gateway route looks like live, as the gateway's admin API reported it. */
export interface LiveRoute {
  /** The gateway's route name. */
  name: string;
  pathPrefix: string;
  /** The upstream the route sends to first, and its circuit breaker's state (`closed`, `open`, `half-open`). */
  upstream: string;
  breaker?: string;
}

// ---- AIModelDeployment -----------------------------------------------------------------------------------------------

/** The runtime that serves the model; it decides the container's command line and port. */
export type Framework = "vllm" | "ollama" | "tgi" | "custom";

/** A model served inside the cluster: the operator owns a Deployment and a Service for it. */
export interface AIModelDeploymentSpec {
  model: { name: string; version?: string };
  /** Default `vllm`. */
  framework: Framework;
  image: string;
  /** Pods go to nodes labelled `ai.kindwatch.dev/hardware-class=<hardwareClass>`. */
  hardwareClass?: string;
  /** Default 1; the scale subresource's. */
  replicas: number;
  /** Requests and limits of the model container: cpu and memory as quantities (`2`, `500m`, `8Gi`), `gpu` as `nvidia.com/gpu`. */
  resources?: { cpu?: string | number; memory?: string | number; gpu?: number };
  /** The container's port (default by framework: vllm 8000, ollama 11434, tgi 80, custom 8080). */
  port?: number;
  /** Extra container arguments and environment. */
  args?: string[];
  env?: { name: string; value: string }[];
  /** Exposes the model through the gateway; without it, the model is in-cluster only (or used by a binding). */
  endpoint?: {
    /** A path prefix, e.g. `/models/llama`. */
    path: string;
    /** Default `["POST"]`. */
    methods: string[];
    authentication?: Authentication;
    rateLimit?: RateLimit;
  };
}

export interface AIModelDeploymentStatus extends AIStatusBase {
  /** Pods of the Deployment, and those ready (from the Deployment's status). */
  replicas?: number;
  readyReplicas?: number;
  /** The label selector of the Pods, as a string (the scale subresource's). */
  selector?: string;
  /** The Service's in-cluster URL. */
  serviceUrl?: string;
  /** The gateway route, when `endpoint` is set. */
  route?: LiveRoute;
}

export interface AIModelDeployment extends KubeObject {
  spec: AIModelDeploymentSpec;
  status?: AIModelDeploymentStatus;
}

// ---- AIModelBinding --------------------------------------------------------------------------------------------------

/** Where a binding's requests go: exactly one of the three. */
export interface BindingTarget {
  /** An AIModelDeployment of the binding's namespace (its Service, and its model name). */
  deploymentRef?: { name: string };
  /** A Service of the binding's namespace. */
  serviceRef?: { name: string; port: number };
  /** Anything reachable by URL (e.g. `https://api.openai.com`). */
  url?: string;
}

/** Exposes a model endpoint through the gateway. */
export interface AIModelBindingSpec {
  target: BindingTarget;
  /** `openai` (OpenAI-compatible: `/v1/...` with profiles, token counts) or `http` (plain). Default `openai`. */
  provider: "openai" | "http";
  /** The model the target serves; unset with `target.deploymentRef` (the AIModelDeployment names it). */
  model?: string;
  /** Host to match (default any). */
  host?: string;
  /** At least one: each is one gateway route. `methods` default to any. */
  routes: {
    path: string;
    methods?: string[];
    /** Only these key ids (of `authentication`) may use the route: the binding's other keys get 403 (default all). */
    keys?: string[];
  }[];
  /** Tried when the target fails to connect, answers 5xx or times out before its first byte. */
  fallback?: BindingTarget;
  /** Durations as `500ms`, `2s`, `1m` (Gateway API's Duration format). */
  timeouts?: { connect?: string; firstByte?: string; total?: string };
  rateLimit?: RateLimit;
  authentication?: Authentication;
  /** An LLMInvocationProfile of the binding's namespace: its model, parameters, history, templates and budget apply. */
  profileRef?: { name: string };
}

export interface AIModelBindingStatus extends AIStatusBase {
  /** The gateway routes, as live. */
  routes?: LiveRoute[];
  /** The target's and fallback's URLs as the gateway uses them. */
  upstream?: string;
  fallbackUpstream?: string;
  /** The key ids in use (never the keys). */
  keyIds?: string[];
}

export interface AIModelBinding extends KubeObject {
  spec: AIModelBindingSpec;
  status?: AIModelBindingStatus;
}

// ---- LLMInvocationProfile --------------------------------------------------------------------------------------------

/** How a model is called: its parameters and their bounds, context, task templates and token budget. */
export interface LLMInvocationProfileSpec {
  /** The model name sent upstream; it must be served by an AIModelDeployment or AIModelBinding of the namespace. */
  model: string;
  /** Defaults for callers that give none. */
  parameters?: { temperature?: number; topP?: number; maxTokens?: number; stop?: string[] };
  /** Caller values are clamped to these. */
  bounds?: {
    temperature?: { min: number; max: number };
    topP?: { min: number; max: number };
    maxTokens?: number;
  };
  /** Default `{}` (so `protocol` is always there). */
  context: {
    /** Default `chat`. */
    protocol: "chat" | "completion";
    systemPrompt?: string;
    history?: {
      /** Default `none`. */
      retention: "none" | "session";
      /** Default 1800; ignored unless `retention` is `session`. */
      ttlSeconds: number;
      /** Default 20; ignored unless `retention` is `session`. */
      maxTurns: number;
      /** The header carrying the session id (default `x-session-id`). */
      header?: string;
    };
  };
  /** Each is `POST <route path>/v1/tasks/NAME {"var": "value", ...}` on the routes of the bindings using the profile. */
  promptTemplates?: {
    name: string;
    template: string;
    /** Default `[]`; every `{{name}}` of the template must be one of them. */
    variables: string[];
  }[];
  tokenBudget?: { tokensPerMinute: number };
}

/** Tokens counted by the gateway since it started (`since`): per profile and per key id. */
export interface TokenUsage {
  inputTokens: number;
  outputTokens: number;
  byKey?: { keyId: string; inputTokens: number; outputTokens: number }[];
  /** The gateway boot id the totals belong to; they restart from 0 with a new one. */
  gatewayBootId?: string;
}

export interface LLMInvocationProfileStatus extends AIStatusBase {
  /** The gateway profile's name. */
  gatewayProfile?: string;
  usage?: TokenUsage;
}

export interface LLMInvocationProfile extends KubeObject {
  spec: LLMInvocationProfileSpec;
  status?: LLMInvocationProfileStatus;
}
