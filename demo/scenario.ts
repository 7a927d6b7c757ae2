/**
 * What the demo does, step by step, and what must show for each step: the lines `kindwatch watch` prints, and for the
 * steps that send requests through `kindwatch gateway`, what the gateway answered and what the stand-in model got.
 * The AI kinds are the operator's (deploy/crds); two kinds with nothing to do with AI show the watch following kinds
 * that come, change version and go while it runs.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { type Cluster, type Condition, isAlreadyExists, type KubeObject, type ResourceClient } from "../src/index.js";
import { aiApiVersion, aiResources } from "../src/operator/types.js";
import type { Answer, GatewayProcess } from "../test/support/gateway.js";
import type { OpenAIUpstream, RecordedRequest } from "../test/support/openai-upstream.js";
import { waitFor } from "../test/support/wait.js";
import { crdApi, installCrd, readCrds, removeCrd } from "./crds.js";
import type { Expect } from "./follow.js";

const backups = { group: "ops.example.com", version: "v1", resource: "backupschedules" };
const flagsCrd = "featureflags.flags.example.com";
const flags = (version: string) => ({ group: "flags.example.com", version, resource: "featureflags" });

/** The namespaces the demo works in. */
export const namespaces = ["ml-team", "search-team"];

const kindNames = {
  bindings: "AIModelBinding",
  deployments: "AIModelDeployment",
  profiles: "LLMInvocationProfile",
} as const;

/** The kinds as `kindwatch watch` labels them. */
const Binding = "AIModelBinding.ai.kindwatch.dev";
const Deployment = "AIModelDeployment.ai.kindwatch.dev";
const Profile = "LLMInvocationProfile.ai.kindwatch.dev";
const Backup = "BackupSchedule.ops.example.com";
const Flag = "FeatureFlag.flags.example.com";

/** The model the stand-in serves, as the binding and the profile name it. */
const model = "llama-3-8b";
/** The demo's API key (in the Secret ml-team/api-keys as key id `alice`). */
export const apiKey = "sk-demo-alice-0123456789";
const firstPrompt = "You are a helpful assistant. Answer in one line.";
const secondPrompt = "You are a pirate. Answer in one line.";

/** What a step acts on: the cluster, the gateway the operator configures, and the stand-in model behind it. */
export interface Plane {
  readonly cluster: Cluster;
  readonly gateway: GatewayProcess;
  readonly model: OpenAIUpstream;
  /** Prints a line of the demo's own (requests and answers). */
  readonly print: (line: string) => void;
  /** How long a step may take to show (ms). */
  readonly timeout: number;
}

/** One step: what the narration says, what it does (throwing when an answer is not what it must be), what the watch must show. */
export interface Step {
  readonly say: string;
  readonly run: (plane: Plane) => Promise<void>;
  readonly expect: readonly Expect[];
  /** Run once the watch has shown the step: confirms (and prints) what the watch's one-line summary cannot say. */
  readonly confirm?: (plane: Plane) => Promise<void>;
}

function obj(apiVersion: string, kind: string, name: string, namespace: string | undefined, spec: object) {
  const labels = namespace ? { team: namespace.replace(/-team$/, "") } : {};
  return { apiVersion, kind, metadata: { name, labels, ...(namespace ? { namespace } : {}) }, spec } as KubeObject;
}

function ai(c: Cluster, kind: keyof typeof aiResources, namespace = "ml-team"): ResourceClient {
  return c.resource(aiResources[kind]).namespace(namespace);
}

/**
 * Waits until `name` of `kind` is Ready for its current generation and prints its condition: the watch's summary of
 * a status change lists the changed fields (`status.conditions[0].lastTransitionTime ... +12 more`), not which
 * condition turned True, and which of them fit on the line depends on the clock (a new lastTransitionTime comes first).
 */
async function confirmReady(p: Plane, kind: keyof typeof aiResources, name: string): Promise<void> {
  const found = await waitFor(
    `${kindNames[kind]} ml-team/${name} to be Ready`,
    async () => {
      const o = await ai(p.cluster, kind).get(name);
      const status = o.status as { observedGeneration?: number; conditions?: Condition[] } | undefined;
      const ready = status?.conditions?.find((c) => c.type === "Ready");
      return ready?.status === "True" && status?.observedGeneration === o.metadata.generation ? ready : undefined;
    },
    { timeoutMs: p.timeout },
  );
  p.print(`  ${kindNames[kind]} ml-team/${name}: Ready=True (${found.reason}: ${found.message})`);
}

/** Sends a chat request through the gateway as `curl` would, printing the command and the answer. */
async function ask(p: Plane, path: string, content: string, quiet = false): Promise<Answer> {
  const body = JSON.stringify({ model, messages: [{ role: "user", content }] });
  if (!quiet) {
    p.print(`$ curl -s ${p.gateway.url}${path} -H 'authorization: Bearer ${apiKey}' -d '${body}'`);
  }
  const answer = await p.gateway.call(path, {
    method: "POST",
    headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" },
    body,
  });
  const text = answer.text.length > 160 ? `${answer.text.slice(0, 159)}…` : answer.text;
  if (!quiet) p.print(`  HTTP ${answer.status}  ${text}`);
  return answer;
}

/** Asks until the limit lets the request through, waiting as each 429's Retry-After says (as a polite client does). */
async function askWithin(p: Plane, path: string, content: string): Promise<Answer> {
  for (let tries = 0; ; tries++) {
    const answer = await ask(p, path, content, tries > 0);
    const retry = Number(answer.headers["retry-after"]);
    if (answer.status !== 429 || tries >= 5 || !Number.isFinite(retry)) return answer;
    p.print(`  (429: waiting the ${retry} s Retry-After says)`);
    await sleep(retry * 1000);
  }
}

/** The chat request the model got last; throws unless it is one since `before`. */
function lastRequest(p: Plane, before: number): RecordedRequest {
  const got = p.model.requests.slice(before).at(-1);
  if (!got) throw new Error("the stand-in model got no request");
  return got;
}

/** Shows what the model got: the messages (with the system prompt the profile added) and max_tokens. */
function showModelGot(p: Plane, got: RecordedRequest): { system: unknown; maxTokens: unknown } {
  const messages = (got.json?.messages ?? []) as { role: string; content: string }[];
  p.print(`  the stand-in model got ${got.method} ${got.path}:`);
  for (const m of messages) p.print(`    ${m.role}: ${JSON.stringify(m.content)}`);
  p.print(`    max_tokens: ${String(got.json?.max_tokens)}, temperature: ${String(got.json?.temperature)}`);
  return { system: messages.find((m) => m.role === "system")?.content, maxTokens: got.json?.max_tokens };
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

/** What exists before the watch starts: it shows as the initial list. */
export const initial: readonly Step[] = [
  {
    say: "create BackupSchedule nightly (cluster-scoped)",
    run: async ({ cluster }) => {
      await cluster.resource(backups).create(
        obj("ops.example.com/v1", "BackupSchedule", "nightly", undefined, {
          schedule: "0 2 * * *",
          namespaces: ["ml-team"],
          retentionDays: 14,
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Backup, ref: "nightly", shows: "(initial)" }],
  },
];

/** The steps of the operator at work: a profile and a binding made Ready, requests through the gateway, a change. */
const operatorSteps: readonly Step[] = [
  {
    say: `create Secret ml-team/api-keys (key id alice) and LLMInvocationProfile ml-team/assistant (model ${model}, max_tokens 64, a system prompt): no binding serves ${model} yet, so the operator reports the profile Degraded (UnknownModel)`,
    run: async ({ cluster }) => {
      await cluster
        .resource({ group: "", version: "v1", resource: "secrets" })
        .namespace("ml-team")
        .create({
          apiVersion: "v1",
          kind: "Secret",
          metadata: { name: "api-keys" },
          data: { alice: Buffer.from(apiKey).toString("base64") },
        } as KubeObject);
      await ai(cluster, "profiles").create(
        obj(aiApiVersion, "LLMInvocationProfile", "assistant", "ml-team", {
          model,
          parameters: { temperature: 0.2, maxTokens: 64 },
          context: { protocol: "chat", systemPrompt: firstPrompt },
        }),
      );
    },
    expect: [
      { event: "ADDED", kind: Profile, ref: "ml-team/assistant" },
      { event: "MODIFIED", kind: Profile, ref: "ml-team/assistant", shows: "+status" },
    ],
  },
  {
    say: `create AIModelBinding ml-team/chat (route /chat to Service llama:8000 serving ${model}, API keys from Secret api-keys, 2 requests/s, profile assistant): the operator puts the route, its keys and the profile into the gateway, and both turn Ready`,
    run: async ({ cluster }) => {
      await ai(cluster, "bindings").create(
        obj(aiApiVersion, "AIModelBinding", "chat", "ml-team", {
          target: { serviceRef: { name: "llama", port: 8000 } },
          provider: "openai",
          model,
          routes: [{ path: "/chat" }],
          rateLimit: { requestsPerSecond: 2, burst: 2 },
          authentication: { secretRef: { name: "api-keys" } },
          profileRef: { name: "assistant" },
        }),
      );
    },
    expect: [
      { event: "ADDED", kind: Binding, ref: "ml-team/chat" },
      { event: "MODIFIED", kind: Binding, ref: "ml-team/chat", shows: "status" },
      { event: "MODIFIED", kind: Profile, ref: "ml-team/assistant", shows: "status.conditions[0]" },
    ],
    confirm: async (p) => {
      await confirmReady(p, "profiles", "assistant");
      await confirmReady(p, "bindings", "chat");
    },
  },
  {
    say: "ask the model through the gateway: the stand-in answers, and it got the profile's system prompt and max_tokens",
    run: async (p) => {
      const before = p.model.requests.length;
      const answer = await askWithin(p, "/chat/v1/chat/completions", "What does kindwatch do?");
      check(answer.status === 200, `the gateway answered ${answer.status}, not 200: ${answer.text}`);
      const got = showModelGot(p, lastRequest(p, before));
      check(got.system === firstPrompt, `the model got system prompt ${JSON.stringify(got.system)}`);
      check(got.maxTokens === 64, `the model got max_tokens ${String(got.maxTokens)}, not 64`);
    },
    expect: [],
  },
  {
    say: "send 4 requests at once: the binding allows 2 a second, so the gateway answers 429 with Retry-After",
    run: async (p) => {
      const answers = await Promise.all(
        [1, 2, 3, 4].map(() => ask(p, "/chat/v1/chat/completions", "Are we there yet?", true)),
      );
      p.print(`  HTTP ${answers.map((a) => a.status).join(", ")}`);
      const limited = answers.find((a) => a.status === 429);
      check(limited !== undefined, `no 429 among ${answers.map((a) => a.status).join(", ")}`);
      const retry = limited?.headers["retry-after"];
      p.print(`  429: Retry-After: ${String(retry)}  ${limited?.text ?? ""}`);
      check(typeof retry === "string" && Number(retry) > 0, "the 429 carries no Retry-After");
    },
    expect: [],
  },
  {
    say: "change the profile: a pirate's system prompt, max_tokens 32; the operator makes generation 2 live",
    run: async ({ cluster }) => {
      await ai(cluster, "profiles").patch(
        "assistant",
        { spec: { parameters: { maxTokens: 32 }, context: { systemPrompt: secondPrompt } } },
        "merge",
      );
    },
    expect: [
      { event: "MODIFIED", kind: Profile, ref: "ml-team/assistant", shows: "spec.parameters.maxTokens: 64→32" },
      { event: "MODIFIED", kind: Profile, ref: "ml-team/assistant", shows: "status.conditions[0]" },
    ],
    confirm: (p) => confirmReady(p, "profiles", "assistant"),
  },
  {
    say: "ask again: the next request carries the new system prompt and max_tokens",
    run: async (p) => {
      const before = p.model.requests.length;
      const answer = await askWithin(p, "/chat/v1/chat/completions", "What does kindwatch do?");
      check(answer.status === 200, `the gateway answered ${answer.status}, not 200: ${answer.text}`);
      const got = showModelGot(p, lastRequest(p, before));
      check(got.system === secondPrompt, `the model got system prompt ${JSON.stringify(got.system)}`);
      check(got.maxTokens === 32, `the model got max_tokens ${String(got.maxTokens)}, not 32`);
    },
    expect: [],
  },
];

/** With --full: a model deployment whose (KWOK-simulated) Pods come up. */
const deploymentSteps: readonly Step[] = [
  {
    say: `create AIModelDeployment ml-team/${model} (vllm, 2 replicas): the operator applies a Deployment and a Service, and it turns Ready once both Pods are`,
    run: async ({ cluster }) => {
      await ai(cluster, "deployments").create(
        obj(aiApiVersion, "AIModelDeployment", model, "ml-team", {
          model: { name: "meta-llama/Llama-3.1-8B-Instruct" },
          framework: "vllm",
          image: "vllm/vllm-openai:v0.6.3",
          replicas: 2,
        }),
      );
    },
    expect: [
      { event: "ADDED", kind: Deployment, ref: `ml-team/${model}` },
      { event: "MODIFIED", kind: Deployment, ref: `ml-team/${model}`, shows: "status.conditions[0]" },
    ],
    confirm: (p) => confirmReady(p, "deployments", model),
  },
];

/** The steps with nothing to do with AI: the watch follows kinds that come, change version and go. */
const kindSteps: readonly Step[] = [
  {
    say: "pause BackupSchedule nightly",
    run: async ({ cluster }) => {
      await cluster.resource(backups).patch("nightly", { spec: { paused: true } }, "merge");
    },
    expect: [{ event: "MODIFIED", kind: Backup, ref: "nightly", shows: "+spec.paused" }],
  },
  {
    say: `install a new CRD, ${flagsCrd}: kindwatch starts watching it by itself`,
    run: async ({ cluster }) => {
      const [crd] = await readCrds("later");
      if (crd) await installCrd(cluster, crd);
    },
    expect: [{ notice: `watching ${Flag}`, shows: "(new kind)" }],
  },
  {
    say: "create FeatureFlag search-team/streaming-responses (off)",
    run: async ({ cluster }) => {
      await cluster
        .resource(flags("v1alpha1"))
        .namespace("search-team")
        .create(
          obj("flags.example.com/v1alpha1", "FeatureFlag", "streaming-responses", "search-team", {
            enabled: false,
            rolloutPercent: 0,
          }),
        );
    },
    expect: [{ event: "ADDED", kind: Flag, ref: "search-team/streaming-responses" }],
  },
  {
    say: "turn it on for 25%",
    run: async ({ cluster }) => {
      await cluster
        .resource(flags("v1alpha1"))
        .namespace("search-team")
        .patch("streaming-responses", { spec: { enabled: true, rolloutPercent: 25 } }, "merge");
    },
    expect: [
      {
        event: "MODIFIED",
        kind: Flag,
        ref: "search-team/streaming-responses",
        shows: "spec.enabled: false→true, spec.rolloutPercent: 0→25",
      },
    ],
  },
  {
    say: `serve ${flagsCrd} as v1 too, and prefer it: kindwatch moves its watch to v1`,
    run: async ({ cluster }) => {
      const crds = cluster.resource(crdApi);
      const crd = await crds.get(flagsCrd);
      const spec = crd.spec as { versions: Record<string, unknown>[] };
      const v1alpha1 = { ...spec.versions[0], storage: false };
      await crds.update({
        ...crd,
        spec: { ...spec, versions: [{ ...v1alpha1, name: "v1", storage: true }, v1alpha1] },
      });
    },
    expect: [{ notice: `version changed ${Flag}`, shows: "now v1 (was v1alpha1)" }],
  },
  {
    say: "roll it out to everyone (through v1)",
    run: async ({ cluster }) => {
      await cluster
        .resource(flags("v1"))
        .namespace("search-team")
        .patch("streaming-responses", { spec: { rolloutPercent: 100 } }, "merge");
    },
    expect: [
      { event: "MODIFIED", kind: Flag, ref: "search-team/streaming-responses", shows: "spec.rolloutPercent: 25→100" },
    ],
  },
  {
    say: `delete the CRD ${flagsCrd}: its objects go with it, and so does the kind`,
    run: async ({ cluster }) => {
      await removeCrd(cluster, flagsCrd);
    },
    expect: [{ event: "DELETED", kind: Flag, ref: "search-team/streaming-responses" }, { notice: `removed ${Flag}` }],
  },
];

/** The end: the binding deleted (its route removed before its finalizer is released), then the backup schedule. */
const endSteps: readonly Step[] = [
  {
    say: "delete AIModelBinding ml-team/chat: the operator removes its route from the gateway, then releases its finalizer",
    run: async (p) => {
      await ai(p.cluster, "bindings").delete("chat");
    },
    expect: [{ event: "DELETED", kind: Binding, ref: "ml-team/chat" }],
  },
  {
    say: "ask once more: the route is gone (404)",
    run: async (p) => {
      const answer = await ask(p, "/chat/v1/chat/completions", "Still there?");
      check(answer.status === 404, `the gateway answered ${answer.status}, not 404: ${answer.text}`);
    },
    expect: [],
  },
  {
    say: "delete LLMInvocationProfile ml-team/assistant and BackupSchedule nightly",
    run: async ({ cluster }) => {
      await ai(cluster, "profiles").delete("assistant");
      await cluster.resource(backups).delete("nightly");
    },
    expect: [
      { event: "DELETED", kind: Profile, ref: "ml-team/assistant" },
      { event: "DELETED", kind: Backup, ref: "nightly" },
    ],
  },
];

/** What happens while the watch runs; `full` adds a model deployment whose Pods come up. */
export function live(full: boolean): readonly Step[] {
  return [...operatorSteps, ...(full ? deploymentSteps : []), ...kindSteps, ...endSteps];
}

/** Creates the demo's namespaces (kept if they exist) and the Service the binding routes to. */
export async function prepare(cluster: Cluster): Promise<void> {
  const api = cluster.resource({ group: "", version: "v1", resource: "namespaces" });
  for (const name of namespaces) {
    try {
      await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  // A Service with no Pods behind it: --service-url-template sends its traffic to the stand-in model instead.
  try {
    await cluster
      .resource({ group: "", version: "v1", resource: "services" })
      .namespace("ml-team")
      .create({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "llama" },
        spec: { ports: [{ port: 8000, targetPort: 8000 }], selector: { app: "llama" } },
      } as KubeObject);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}
