/**
 * What the demo does to the cluster, step by step, and what `kindwatch watch` must show for each step. The objects
 * are the AI-model kinds (bindings to a provider's model, in-cluster model deployments, invocation profiles) and two
 * kinds with nothing to do with AI, one of which does not exist when the watch starts.
 */
import { type Cluster, isAlreadyExists, type KubeObject, type ResourceClient } from "../src/index.js";
import { crdApi, installCrd, readCrds, removeCrd } from "./crds.js";
import type { Expect } from "./follow.js";

const ai = "ai.kindwatch.dev";
const bindings = { group: ai, version: "v1alpha1", resource: "aimodelbindings" };
const deployments = { group: ai, version: "v1alpha1", resource: "aimodeldeployments" };
const profiles = { group: ai, version: "v1alpha1", resource: "llminvocationprofiles" };
const backups = { group: "ops.example.com", version: "v1", resource: "backupschedules" };
const flagsCrd = "featureflags.flags.example.com";
const flags = (version: string) => ({ group: "flags.example.com", version, resource: "featureflags" });

/** The namespaces the demo works in. */
export const namespaces = ["ml-team", "search-team"];

/** The kinds as `kindwatch watch` labels them. */
const Binding = "AIModelBinding.ai.kindwatch.dev";
const Deployment = "AIModelDeployment.ai.kindwatch.dev";
const Profile = "LLMInvocationProfile.ai.kindwatch.dev";
const Backup = "BackupSchedule.ops.example.com";
const Flag = "FeatureFlag.flags.example.com";

/** One step: what the narration says, what it does, and what the watch must show for it. */
export interface Step {
  readonly say: string;
  readonly run: (cluster: Cluster) => Promise<void>;
  readonly expect: readonly Expect[];
}

function obj(apiVersion: string, kind: string, name: string, namespace: string | undefined, spec: object) {
  const labels = namespace ? { team: namespace.replace(/-team$/, "") } : {};
  return { apiVersion, kind, metadata: { name, labels, ...(namespace ? { namespace } : {}) }, spec } as KubeObject;
}

function ns(cluster: Cluster, gvr: typeof bindings, namespace: string): ResourceClient {
  return cluster.resource(gvr).namespace(namespace);
}

const readyCondition = (status: "True" | "False", reason: string, message: string) => ({
  type: "Ready",
  status,
  reason,
  message,
  lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
});

/** What exists before the watch starts: it shows as the initial list. */
export const initial: readonly Step[] = [
  {
    say: "create AIModelBinding ml-team/gpt-summarizer (openai, gpt-4o-mini, 10 requests/s)",
    run: async (c) => {
      await ns(c, bindings, "ml-team").create(
        obj(`${ai}/v1alpha1`, "AIModelBinding", "gpt-summarizer", "ml-team", {
          provider: "openai",
          model: "gpt-4o-mini",
          credentialsSecret: "openai-key",
          rateLimit: { requestsPerSecond: 10 },
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Binding, ref: "ml-team/gpt-summarizer", shows: "(initial)" }],
  },
  {
    say: "create AIModelDeployment ml-team/llama-3-8b (vllm, 1 replica)",
    run: async (c) => {
      await ns(c, deployments, "ml-team").create(
        obj(`${ai}/v1alpha1`, "AIModelDeployment", "llama-3-8b", "ml-team", {
          model: "meta-llama/Llama-3.1-8B-Instruct",
          runtime: "vllm",
          replicas: 1,
          gpu: { type: "nvidia-l4", count: 1 },
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Deployment, ref: "ml-team/llama-3-8b", shows: "(initial)" }],
  },
  {
    say: "create BackupSchedule nightly (cluster-scoped)",
    run: async (c) => {
      await c.resource(backups).create(
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

/** What happens while the watch runs. */
export const live: readonly Step[] = [
  {
    say: "create AIModelBinding search-team/claude-reranker (anthropic)",
    run: async (c) => {
      await ns(c, bindings, "search-team").create(
        obj(`${ai}/v1alpha1`, "AIModelBinding", "claude-reranker", "search-team", {
          provider: "anthropic",
          model: "claude-sonnet-4-5",
          credentialsSecret: "anthropic-key",
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Binding, ref: "search-team/claude-reranker" }],
  },
  {
    say: "create LLMInvocationProfile search-team/rerank-strict (temperature 0.2, 512 tokens)",
    run: async (c) => {
      await ns(c, profiles, "search-team").create(
        obj(`${ai}/v1alpha1`, "LLMInvocationProfile", "rerank-strict", "search-team", {
          bindingRef: "claude-reranker",
          temperature: 0.2,
          maxTokens: 512,
          systemPrompt: "Rank the passages by relevance. Answer with their ids only.",
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Profile, ref: "search-team/rerank-strict" }],
  },
  {
    say: "a controller marks search-team/claude-reranker Ready (status subresource)",
    run: async (c) => {
      await ns(c, bindings, "search-team").patchStatus(
        "claude-reranker",
        { status: { observedGeneration: 1, conditions: [readyCondition("True", "Reachable", "model answered")] } },
        "merge",
      );
    },
    expect: [{ event: "MODIFIED", kind: Binding, ref: "search-team/claude-reranker", shows: "+status" }],
  },
  {
    say: "scale AIModelDeployment ml-team/llama-3-8b to 3 replicas (scale subresource)",
    run: async (c) => {
      await ns(c, deployments, "ml-team").patchScale("llama-3-8b", { spec: { replicas: 3 } }, "merge");
    },
    expect: [{ event: "MODIFIED", kind: Deployment, ref: "ml-team/llama-3-8b", shows: "spec.replicas: 1→3" }],
  },
  {
    say: "its pods come up: status.readyReplicas 3",
    run: async (c) => {
      await ns(c, deployments, "ml-team").patchStatus(
        "llama-3-8b",
        { status: { replicas: 3, readyReplicas: 3, endpoint: "http://llama-3-8b.ml-team:8000/v1" } },
        "merge",
      );
    },
    expect: [{ event: "MODIFIED", kind: Deployment, ref: "ml-team/llama-3-8b", shows: "+status" }],
  },
  {
    say: "loosen search-team/rerank-strict: temperature 0.7, 1024 tokens",
    run: async (c) => {
      await ns(c, profiles, "search-team").patch(
        "rerank-strict",
        { spec: { temperature: 0.7, maxTokens: 1024 } },
        "merge",
      );
    },
    expect: [
      {
        event: "MODIFIED",
        kind: Profile,
        ref: "search-team/rerank-strict",
        shows: "spec.maxTokens: 512→1024, spec.temperature: 0.2→0.7",
      },
    ],
  },
  {
    say: "label ml-team/gpt-summarizer tier=gold and raise its limit to 50 requests/s",
    run: async (c) => {
      await ns(c, bindings, "ml-team").patch(
        "gpt-summarizer",
        { metadata: { labels: { tier: "gold" } }, spec: { rateLimit: { requestsPerSecond: 50 } } },
        "merge",
      );
    },
    expect: [
      {
        event: "MODIFIED",
        kind: Binding,
        ref: "ml-team/gpt-summarizer",
        shows: "+labels.tier, spec.rateLimit.requestsPerSecond: 10→50",
      },
    ],
  },
  {
    say: "pause BackupSchedule nightly",
    run: async (c) => {
      await c.resource(backups).patch("nightly", { spec: { paused: true } }, "merge");
    },
    expect: [{ event: "MODIFIED", kind: Backup, ref: "nightly", shows: "+spec.paused" }],
  },
  {
    say: `install a new CRD, ${flagsCrd}: kindwatch starts watching it by itself`,
    run: async (c) => {
      const [crd] = await readCrds("later");
      if (crd) await installCrd(c, crd);
    },
    expect: [{ notice: `watching ${Flag}`, shows: "(new kind)" }],
  },
  {
    say: "create FeatureFlag ml-team/streaming-responses (off)",
    run: async (c) => {
      await ns(c, flags("v1alpha1"), "ml-team").create(
        obj("flags.example.com/v1alpha1", "FeatureFlag", "streaming-responses", "ml-team", {
          enabled: false,
          rolloutPercent: 0,
        }),
      );
    },
    expect: [{ event: "ADDED", kind: Flag, ref: "ml-team/streaming-responses" }],
  },
  {
    say: "turn it on for 25%",
    run: async (c) => {
      await ns(c, flags("v1alpha1"), "ml-team").patch(
        "streaming-responses",
        { spec: { enabled: true, rolloutPercent: 25 } },
        "merge",
      );
    },
    expect: [
      {
        event: "MODIFIED",
        kind: Flag,
        ref: "ml-team/streaming-responses",
        shows: "spec.enabled: false→true, spec.rolloutPercent: 0→25",
      },
    ],
  },
  {
    say: `serve ${flagsCrd} as v1 too, and prefer it: kindwatch moves its watch to v1`,
    run: async (c) => {
      const crds = c.resource(crdApi);
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
    run: async (c) => {
      await ns(c, flags("v1"), "ml-team").patch("streaming-responses", { spec: { rolloutPercent: 100 } }, "merge");
    },
    expect: [
      { event: "MODIFIED", kind: Flag, ref: "ml-team/streaming-responses", shows: "spec.rolloutPercent: 25→100" },
    ],
  },
  {
    say: "switch ml-team/gpt-summarizer to gpt-4.1-mini",
    run: async (c) => {
      await ns(c, bindings, "ml-team").patch("gpt-summarizer", { spec: { model: "gpt-4.1-mini" } }, "merge");
    },
    expect: [
      {
        event: "MODIFIED",
        kind: Binding,
        ref: "ml-team/gpt-summarizer",
        shows: 'spec.model: "gpt-4o-mini"→"gpt-4.1-mini"',
      },
    ],
  },
  {
    say: "delete LLMInvocationProfile search-team/rerank-strict and its AIModelBinding",
    run: async (c) => {
      await ns(c, profiles, "search-team").delete("rerank-strict");
      await ns(c, bindings, "search-team").delete("claude-reranker");
    },
    expect: [
      { event: "DELETED", kind: Profile, ref: "search-team/rerank-strict" },
      { event: "DELETED", kind: Binding, ref: "search-team/claude-reranker" },
    ],
  },
  {
    say: "scale ml-team/llama-3-8b down to 0",
    run: async (c) => {
      await ns(c, deployments, "ml-team").patchScale("llama-3-8b", { spec: { replicas: 0 } }, "merge");
    },
    expect: [{ event: "MODIFIED", kind: Deployment, ref: "ml-team/llama-3-8b", shows: "spec.replicas: 3→0" }],
  },
  {
    say: `delete the CRD ${flagsCrd}: its objects go with it, and so does the kind`,
    run: async (c) => {
      await removeCrd(c, flagsCrd);
    },
    expect: [{ event: "DELETED", kind: Flag, ref: "ml-team/streaming-responses" }, { notice: `removed ${Flag}` }],
  },
  {
    say: "delete BackupSchedule nightly",
    run: async (c) => {
      await c.resource(backups).delete("nightly");
    },
    expect: [{ event: "DELETED", kind: Backup, ref: "nightly" }],
  },
];

/** Creates the demo's namespaces (kept if they exist). */
export async function createNamespaces(cluster: Cluster): Promise<void> {
  const api = cluster.resource({ group: "", version: "v1", resource: "namespaces" });
  for (const name of namespaces) {
    try {
      await api.create({ apiVersion: "v1", kind: "Namespace", metadata: { name } });
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
}
