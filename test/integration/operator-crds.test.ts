/**
 * The operator's CRDs (`deploy/crds/`) on a real API server: the examples of `deploy/examples/` are accepted and come
 * back with the schema's defaults; every validation refuses a bad object with a 422 whose cause names the field; the
 * scale subresource follows `spec.replicas`, `status.replicas` and `status.selector`; and a real kubectl shows the
 * printer columns, short names, the `ai` category and the field descriptions.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { ResourceClient } from "../../src/client/index.js";
import { type Cluster, connect } from "../../src/connect.js";
import { ApiError } from "../../src/http/index.js";
import type { KubeObject } from "../../src/object/types.js";
import {
  type AIModelBinding,
  type AIModelBindingStatus,
  type AIModelDeployment,
  type AIModelDeploymentStatus,
  aiResources,
  type LLMInvocationProfile,
  type LLMInvocationProfileStatus,
} from "../../src/operator/types.js";
import { attachCluster, type ClusterAccess } from "../../src/testing/index.js";
import { namespacesGvr } from "../support/client.js";
import { kubectl, kubectlJson } from "../support/kubectl.js";
import { installOperatorCrds } from "../support/operator.js";
import { uniqueName } from "../support/wait.js";

const examplesDir = fileURLToPath(new URL("../../../deploy/examples/", import.meta.url));

/** One example of `deploy/examples/`, as a fresh object each time (cases edit their copy). */
function example<T extends KubeObject>(file: string): T {
  return parse(readFileSync(`${examplesDir}${file}`, "utf8")) as T;
}

const deployment = (): AIModelDeployment => example("aimodeldeployment.yaml");
const binding = (): AIModelBinding => example("aimodelbinding.yaml");
const profile = (): LLMInvocationProfile => example("llminvocationprofile.yaml");

/** A bad object and the cause the server must give for it: the field, and words of the message. */
interface Rejection {
  readonly name: string;
  readonly object: () => KubeObject;
  readonly field: string;
  readonly message: string;
  /** Written as the status of the live example (the status subresource), not created. */
  readonly status?: true;
}

/** The example with `status` as its status. */
function withStatus<T extends KubeObject>(base: () => T, status: Record<string, unknown>): () => T {
  return () => ({ ...base(), status });
}

/** A condition as the controllers write it, with `edit` applied. */
function condition(edit: Record<string, unknown> = {}): Record<string, unknown> {
  return { type: "Ready", status: "True", lastTransitionTime: "2026-01-02T03:04:05Z", reason: "Live", ...edit };
}

/** The same rejection for each of `fields` (siblings with the same rule): the case's edit gets the field's name. */
function each(fields: readonly string[], make: (field: string) => Rejection): Rejection[] {
  return fields.map(make);
}

/** `base` with `edit` applied to its spec. */
function edited<T extends KubeObject & { spec: object }>(
  base: () => T,
  edit: (spec: T["spec"], obj: T) => void,
): () => T {
  return () => {
    const obj = base();
    edit(obj.spec, obj);
    return obj;
  };
}

const amd = (edit: (spec: AIModelDeployment["spec"], obj: AIModelDeployment) => void) => edited(deployment, edit);
const amb = (edit: (spec: AIModelBinding["spec"]) => void) => edited(binding, edit);
const llmp = (edit: (spec: LLMInvocationProfile["spec"]) => void) => edited(profile, edit);

/** Sets a field the types do not allow (a wrong type, or a value out of a union) on a spec. */
function set(target: object, key: string, value: unknown): void {
  (target as Record<string, unknown>)[key] = value;
}

const rejections: readonly Rejection[] = [
  {
    name: "an AIModelDeployment name that cannot name its Service",
    object: amd((_, obj) => {
      obj.metadata.name = "7b.model";
    }),
    field: "metadata.name",
    message: "should match '^[a-z]([-a-z0-9]*[a-z0-9])?$'",
  },
  {
    name: "an unknown framework",
    object: amd((s) => set(s, "framework", "triton")),
    field: "spec.framework",
    message: 'supported values: "vllm", "ollama", "tgi", "custom"',
  },
  {
    name: "negative replicas",
    object: amd((s) => {
      s.replicas = -1;
    }),
    field: "spec.replicas",
    message: "should be greater than or equal to 0",
  },
  {
    name: "a cpu that is not a quantity",
    object: amd((s) => {
      s.resources = { cpu: "two" };
    }),
    field: "spec.resources.cpu",
    message: "should match",
  },
  {
    name: "a zero memory quantity",
    object: amd((s) => {
      s.resources = { memory: "0Gi" };
    }),
    field: "spec.resources.memory",
    message: "must be more than 0",
  },
  {
    name: "a negative gpu count",
    object: amd((s) => {
      s.resources = { gpu: -1 };
    }),
    field: "spec.resources.gpu",
    message: "should be greater than or equal to 0",
  },
  {
    name: "a port out of range",
    object: amd((s) => {
      s.port = 70000;
    }),
    field: "spec.port",
    message: "should be less than or equal to 65535",
  },
  {
    name: "two env entries of one name",
    object: amd((s) => {
      s.env = [
        { name: "A", value: "1" },
        { name: "A", value: "2" },
      ];
    }),
    field: "spec.env[1]",
    message: "Duplicate value",
  },
  {
    name: "an endpoint path without a leading /",
    object: amd((s) => {
      if (s.endpoint) s.endpoint.path = "models/qwen";
    }),
    field: "spec.endpoint.path",
    message: "should match '^/",
  },
  {
    name: "a lower-case method",
    object: amd((s) => {
      if (s.endpoint) s.endpoint.methods = ["post"];
    }),
    field: "spec.endpoint.methods[0]",
    message: "should match '^[A-Z]+$'",
  },
  {
    name: "a Secret reference that is not a DNS name",
    object: amd((s) => {
      if (s.endpoint?.authentication) s.endpoint.authentication.secretRef.name = "Qwen_Keys";
    }),
    field: "spec.endpoint.authentication.secretRef.name",
    message: "should match",
  },
  {
    name: "a header name with a space",
    object: amd((s) => {
      if (s.endpoint?.authentication) s.endpoint.authentication.header = "x api key";
    }),
    field: "spec.endpoint.authentication.header",
    message: "should match",
  },
  {
    name: "a rate of 0 requests per second",
    object: amd((s) => {
      if (s.endpoint) s.endpoint.rateLimit = { requestsPerSecond: 0 };
    }),
    field: "spec.endpoint.rateLimit.requestsPerSecond",
    message: "should be greater than 0",
  },
  {
    name: "a burst of 0",
    object: amd((s) => {
      if (s.endpoint) s.endpoint.rateLimit = { requestsPerSecond: 1, burst: 0 };
    }),
    field: "spec.endpoint.rateLimit.burst",
    message: "should be greater than or equal to 1",
  },
  {
    name: "a binding target with both a deploymentRef and a url",
    object: amb((s) => {
      s.target.url = "http://model.example:8000";
    }),
    field: "spec.target",
    message: "exactly one of deploymentRef, serviceRef and url must be set",
  },
  {
    name: "a binding target with none of the three",
    object: amb((s) => {
      s.target = {};
    }),
    field: "spec.target",
    message: "exactly one of deploymentRef, serviceRef and url must be set",
  },
  {
    name: "a fallback with both a serviceRef and a url",
    object: amb((s) => {
      s.fallback = { serviceRef: { name: "backup", port: 80 }, url: "http://backup.example" };
    }),
    field: "spec.fallback",
    message: "exactly one of deploymentRef, serviceRef and url must be set",
  },
  {
    name: "a model beside a deploymentRef, which names the model itself",
    object: amb((s) => {
      s.model = "gpt-4o";
    }),
    field: "spec.model",
    message: "model is taken from the AIModelDeployment of target.deploymentRef",
  },
  {
    name: "a deploymentRef that is not a DNS-1035 label",
    object: amb((s) => {
      s.target = { deploymentRef: { name: "Qwen" } };
    }),
    field: "spec.target.deploymentRef.name",
    message: "should match",
  },
  {
    name: "a serviceRef without a port",
    object: amb((s) => {
      s.target = { serviceRef: { name: "model" } as { name: string; port: number } };
    }),
    field: "spec.target.serviceRef.port",
    message: "Required value",
  },
  {
    name: "a url that is not http(s)",
    object: amb((s) => {
      s.fallback = { url: "ftp://models.example" };
    }),
    field: "spec.fallback.url",
    message: "should match",
  },
  {
    name: "a url with a query",
    object: amb((s) => {
      s.fallback = { url: "https://models.example/v1?key=1" };
    }),
    field: "spec.fallback.url",
    message: "should match",
  },
  {
    name: "an unknown provider",
    object: amb((s) => set(s, "provider", "grpc")),
    field: "spec.provider",
    message: 'supported values: "openai", "http"',
  },
  {
    name: "a host with a space",
    object: amb((s) => {
      s.host = "models .example";
    }),
    field: "spec.host",
    message: "should match",
  },
  {
    name: "no routes",
    object: amb((s) => {
      s.routes = [];
    }),
    field: "spec.routes",
    message: "should have at least 1 items",
  },
  {
    name: "a route path without a leading /",
    object: amb((s) => {
      s.routes = [{ path: "v1" }];
    }),
    field: "spec.routes[0].path",
    message: "should match '^/",
  },
  {
    name: "two routes of one path",
    object: amb((s) => {
      s.routes = [{ path: "/v1" }, { path: "/v1", methods: ["GET"] }];
    }),
    field: "spec.routes[1]",
    message: "Duplicate value",
  },
  {
    name: "a timeout that is not a Duration",
    object: amb((s) => {
      s.timeouts = { connect: "2 seconds" };
    }),
    field: "spec.timeouts.connect",
    message: "should match",
  },
  {
    name: "a timeout over 24h",
    object: amb((s) => {
      s.timeouts = { total: "25h" };
    }),
    field: "spec.timeouts.total",
    message: "must be more than 0s and at most 24h",
  },
  {
    name: "a timeout of 0s",
    object: amb((s) => {
      s.timeouts = { firstByte: "0s" };
    }),
    field: "spec.timeouts.firstByte",
    message: "must be more than 0s and at most 24h",
  },
  {
    name: "a binding's burst of 0",
    object: amb((s) => {
      s.rateLimit = { requestsPerSecond: 10, burst: 0 };
    }),
    field: "spec.rateLimit.burst",
    message: "should be greater than or equal to 1",
  },
  {
    name: "a key name a Secret cannot have",
    object: amb((s) => {
      if (s.authentication) s.authentication.keys = ["team a"];
    }),
    field: "spec.authentication.keys[0]",
    message: "should match",
  },
  {
    name: "a temperature range whose min is above its max",
    object: llmp((s) => {
      s.bounds = { temperature: { min: 1, max: 0.5 } };
    }),
    field: "spec.bounds.temperature",
    message: "min must not be above max",
  },
  {
    name: "a top_p range whose min is above its max",
    object: llmp((s) => {
      s.bounds = { topP: { min: 0.9, max: 0.1 } };
    }),
    field: "spec.bounds.topP",
    message: "min must not be above max",
  },
  {
    name: "a temperature outside its bounds",
    object: llmp((s) => {
      s.parameters = { temperature: 1.5 };
    }),
    field: "spec.parameters.temperature",
    message: "must be within bounds.temperature",
  },
  {
    name: "a top_p outside its bounds",
    object: llmp((s) => {
      s.parameters = { topP: 0.2 };
    }),
    field: "spec.parameters.topP",
    message: "must be within bounds.topP",
  },
  {
    name: "maxTokens above its bound",
    object: llmp((s) => {
      s.parameters = { maxTokens: 4096 };
    }),
    field: "spec.parameters.maxTokens",
    message: "must be at most bounds.maxTokens",
  },
  {
    name: "a temperature above 2",
    object: llmp((s) => {
      delete s.bounds;
      s.parameters = { temperature: 2.5 };
    }),
    field: "spec.parameters.temperature",
    message: "should be less than or equal to 2",
  },
  {
    name: "two prompt templates of one name",
    object: llmp((s) => {
      s.promptTemplates = [
        { name: "summarise", template: "Summarise: {{text}}", variables: ["text"] },
        { name: "summarise", template: "Shorten: {{text}}", variables: ["text"] },
      ];
    }),
    field: "spec.promptTemplates[1]",
    message: "Duplicate value",
  },
  {
    name: "a template placeholder that is not a declared variable",
    object: llmp((s) => {
      s.promptTemplates = [{ name: "translate", template: "Into {{ language }}: {{text}}", variables: ["text"] }];
    }),
    field: "spec.promptTemplates[0].template",
    message: "every {{placeholder}} of the template must be one of variables",
  },
  {
    name: "a variable name a placeholder cannot use",
    object: llmp((s) => {
      s.promptTemplates = [{ name: "translate", template: "Translate", variables: ["the text"] }];
    }),
    field: "spec.promptTemplates[0].variables[0]",
    message: "should match",
  },
  {
    name: "session history with the completion protocol",
    object: llmp((s) => {
      s.context.protocol = "completion";
    }),
    field: "spec.context.history.retention",
    message: "session history needs protocol chat",
  },
  {
    name: "a history ttl of 0",
    object: llmp((s) => {
      s.context.history = { retention: "session", ttlSeconds: 0, maxTurns: 20 };
    }),
    field: "spec.context.history.ttlSeconds",
    message: "should be greater than or equal to 1",
  },
  ...each(["cpu", "memory"], (f) => ({
    name: `a ${f} that is negative`,
    object: amd((s) => {
      s.resources = { [f]: "-1" };
    }),
    field: `spec.resources.${f}`,
    message: "should match",
  })),
  ...each(["cpu", "memory"], (f) => ({
    name: `a ${f} of 0`,
    object: amd((s) => {
      s.resources = { [f]: 0 };
    }),
    field: `spec.resources.${f}`,
    message: "must be more than 0",
  })),
  {
    name: "a port of 0",
    object: amd((s) => {
      s.port = 0;
    }),
    field: "spec.port",
    message: "should be greater than or equal to 1",
  },
  {
    name: "a hardware class that is not a label value",
    object: amd((s) => {
      s.hardwareClass = "gpu/large";
    }),
    field: "spec.hardwareClass",
    message: "should match",
  },
  {
    name: "an image with a space",
    object: amd((s) => {
      s.image = "vllm openai";
    }),
    field: "spec.image",
    message: "should match",
  },
  {
    name: "a model name with a space",
    object: amd((s) => {
      s.model.name = "llama 3";
    }),
    field: "spec.model.name",
    message: "should match",
  },
  {
    name: "an env name with =",
    object: amd((s) => {
      s.env = [{ name: "A=B", value: "1" }];
    }),
    field: "spec.env[0].name",
    message: "should match",
  },
  {
    name: "an endpoint without methods",
    object: amd((s) => {
      if (s.endpoint) s.endpoint.methods = [];
    }),
    field: "spec.endpoint.methods",
    message: "should have at least 1 items",
  },
  {
    name: "an AIModelDeployment without a model",
    object: amd((s) => set(s, "model", undefined)),
    field: "spec.model",
    message: "Required value",
  },
  {
    name: "an AIModelDeployment without an image",
    object: amd((s) => set(s, "image", undefined)),
    field: "spec.image",
    message: "Required value",
  },
  {
    name: "an endpoint without a path",
    object: amd((s) => {
      if (s.endpoint) set(s.endpoint, "path", undefined);
    }),
    field: "spec.endpoint.path",
    message: "Required value",
  },
  {
    name: "a rate limit without a rate",
    object: amd((s) => {
      if (s.endpoint) set(s.endpoint, "rateLimit", { burst: 3 });
    }),
    field: "spec.endpoint.rateLimit.requestsPerSecond",
    message: "Required value",
  },
  {
    name: "an endpoint authentication without a Secret",
    object: amd((s) => {
      if (s.endpoint?.authentication) set(s.endpoint.authentication, "secretRef", undefined);
    }),
    field: "spec.endpoint.authentication.secretRef",
    message: "Required value",
  },
  {
    name: "an endpoint key list that is empty",
    object: amd((s) => {
      if (s.endpoint?.authentication) s.endpoint.authentication.keys = [];
    }),
    field: "spec.endpoint.authentication.keys",
    message: "should have at least 1 items",
  },
  {
    name: "an endpoint key name a Secret cannot have",
    object: amd((s) => {
      if (s.endpoint?.authentication) s.endpoint.authentication.keys = ["a/b"];
    }),
    field: "spec.endpoint.authentication.keys[0]",
    message: "should match",
  },
  {
    name: "a condition whose status is not True, False or Unknown",
    object: withStatus(deployment, { conditions: [condition({ status: "Yes" })] }),
    field: "status.conditions[0].status",
    message: 'supported values: "True", "False", "Unknown"',
    status: true,
  },
  {
    name: "a condition reason that is not CamelCase",
    object: withStatus(deployment, { conditions: [condition({ reason: "not ready" })] }),
    field: "status.conditions[0].reason",
    message: "should match",
    status: true,
  },
  {
    name: "a condition without a lastTransitionTime",
    object: withStatus(deployment, { conditions: [condition({ lastTransitionTime: undefined })] }),
    field: "status.conditions[0].lastTransitionTime",
    message: "Required value",
    status: true,
  },
  {
    name: "two conditions of one type",
    object: withStatus(deployment, { conditions: [condition(), condition({ status: "False" })] }),
    field: "status.conditions[1]",
    message: "Duplicate value",
    status: true,
  },
  {
    name: "a live route without an upstream",
    object: withStatus(deployment, { route: { name: "amd.x.y", pathPrefix: "/" } }),
    field: "status.route.upstream",
    message: "Required value",
    status: true,
  },
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} serviceRef port of 0`,
    object: amb((s) => {
      s[f as "target"] = { serviceRef: { name: "model", port: 0 } };
    }),
    field: `spec.${f}.serviceRef.port`,
    message: "should be greater than or equal to 1",
  })),
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} serviceRef port above 65535`,
    object: amb((s) => {
      s[f as "target"] = { serviceRef: { name: "model", port: 65536 } };
    }),
    field: `spec.${f}.serviceRef.port`,
    message: "should be less than or equal to 65535",
  })),
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} serviceRef name that is not a DNS-1035 label`,
    object: amb((s) => {
      s[f as "target"] = { serviceRef: { name: "1model", port: 80 } };
    }),
    field: `spec.${f}.serviceRef.name`,
    message: "should match",
  })),
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} serviceRef without a name`,
    object: amb((s) => {
      s[f as "target"] = { serviceRef: { port: 80 } as { name: string; port: number } };
    }),
    field: `spec.${f}.serviceRef.name`,
    message: "Required value",
  })),
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} deploymentRef without a name`,
    object: amb((s) => {
      s[f as "target"] = { deploymentRef: {} as { name: string } };
    }),
    field: `spec.${f}.deploymentRef.name`,
    message: "Required value",
  })),
  {
    name: "a fallback deploymentRef that is not a DNS-1035 label",
    object: amb((s) => {
      s.fallback = { deploymentRef: { name: "Qwen" } };
    }),
    field: "spec.fallback.deploymentRef.name",
    message: "should match",
  },
  ...each(["target", "fallback"], (f) => ({
    name: `a ${f} url that does not parse`,
    object: amb((s) => {
      s[f as "target"] = { url: "http://[::1" };
    }),
    field: `spec.${f}.url`,
    message: "must be a URL",
  })),
  {
    name: "a target url with a user",
    object: amb((s) => {
      s.target = { url: "https://user:secret@models.example" };
    }),
    field: "spec.target.url",
    message: "should match",
  },
  ...each(["connect", "firstByte", "total"], (f) => ({
    name: `a ${f} timeout that is not a Duration`,
    object: amb((s) => {
      s.timeouts = { [f]: "1d" };
    }),
    field: `spec.timeouts.${f}`,
    message: "should match",
  })),
  ...each(["connect", "firstByte", "total"], (f) => ({
    name: `a ${f} timeout of 0ms`,
    object: amb((s) => {
      s.timeouts = { [f]: "0ms" };
    }),
    field: `spec.timeouts.${f}`,
    message: "must be more than 0s and at most 24h",
  })),
  {
    name: "a model with a space",
    object: amb((s) => {
      s.target = { url: "https://api.openai.com" };
      s.model = "gpt 4o";
    }),
    field: "spec.model",
    message: "should match",
  },
  {
    name: "a lower-case route method",
    object: amb((s) => {
      s.routes = [{ path: "/v1", methods: ["get"] }];
    }),
    field: "spec.routes[0].methods[0]",
    message: "should match",
  },
  {
    name: "a route with an empty method list",
    object: amb((s) => {
      s.routes = [{ path: "/v1", methods: [] }];
    }),
    field: "spec.routes[0].methods",
    message: "should have at least 1 items",
  },
  {
    name: "a route method given twice",
    object: amb((s) => {
      s.routes = [{ path: "/v1", methods: ["GET", "GET"] }];
    }),
    field: "spec.routes[0].methods[1]",
    message: "Duplicate value",
  },
  {
    name: "a binding without a target",
    object: amb((s) => set(s, "target", undefined)),
    field: "spec.target",
    message: "Required value",
  },
  {
    name: "a binding without routes",
    object: amb((s) => set(s, "routes", undefined)),
    field: "spec.routes",
    message: "Required value",
  },
  {
    name: "a binding rate of 0",
    object: amb((s) => {
      s.rateLimit = { requestsPerSecond: 0 };
    }),
    field: "spec.rateLimit.requestsPerSecond",
    message: "should be greater than 0",
  },
  {
    name: "a binding rate limit without a rate",
    object: amb((s) => {
      set(s, "rateLimit", { burst: 3 });
    }),
    field: "spec.rateLimit.requestsPerSecond",
    message: "Required value",
  },
  {
    name: "a binding header name with a colon",
    object: amb((s) => {
      if (s.authentication) s.authentication.header = "x-api-key:";
    }),
    field: "spec.authentication.header",
    message: "should match",
  },
  {
    name: "a binding Secret reference that is not a DNS name",
    object: amb((s) => {
      if (s.authentication) s.authentication.secretRef = { name: "Keys" };
    }),
    field: "spec.authentication.secretRef.name",
    message: "should match",
  },
  {
    name: "a binding key list that is empty",
    object: amb((s) => {
      if (s.authentication) s.authentication.keys = [];
    }),
    field: "spec.authentication.keys",
    message: "should have at least 1 items",
  },
  {
    name: "a binding key given twice",
    object: amb((s) => {
      if (s.authentication) s.authentication.keys = ["team-a", "team-a"];
    }),
    field: "spec.authentication.keys[1]",
    message: "Duplicate value",
  },
  {
    name: "a binding authentication without a Secret",
    object: amb((s) => {
      if (s.authentication) set(s.authentication, "secretRef", undefined);
    }),
    field: "spec.authentication.secretRef",
    message: "Required value",
  },
  {
    name: "a profileRef that is not a DNS name",
    object: amb((s) => {
      s.profileRef = { name: "Assistant" };
    }),
    field: "spec.profileRef.name",
    message: "should match",
  },
  {
    name: "a live route of a binding without a path prefix",
    object: withStatus(binding, { routes: [{ name: "amb.x.y.0", upstream: "http://x" }] }),
    field: "status.routes[0].pathPrefix",
    message: "Required value",
    status: true,
  },
  {
    name: "a binding's live route given twice",
    object: withStatus(binding, {
      routes: [
        { name: "amb.x.y.0", pathPrefix: "/", upstream: "http://x" },
        { name: "amb.x.y.0", pathPrefix: "/", upstream: "http://x" },
      ],
    }),
    field: "status.routes[1]",
    message: "Duplicate value",
    status: true,
  },
  {
    name: "a profile without a model",
    object: llmp((s) => set(s, "model", undefined)),
    field: "spec.model",
    message: "Required value",
  },
  {
    name: "a profile model with a space",
    object: llmp((s) => {
      s.model = "qwen 2.5";
    }),
    field: "spec.model",
    message: "should match",
  },
  ...each(["temperature", "topP"], (f) => ({
    name: `a negative ${f}`,
    object: llmp((s) => {
      delete s.bounds;
      s.parameters = { [f]: -0.1 };
    }),
    field: `spec.parameters.${f}`,
    message: "should be greater than or equal to 0",
  })),
  {
    name: "a top_p above 1",
    object: llmp((s) => {
      delete s.bounds;
      s.parameters = { topP: 1.1 };
    }),
    field: "spec.parameters.topP",
    message: "should be less than or equal to 1",
  },
  {
    name: "a maxTokens of 0",
    object: llmp((s) => {
      delete s.bounds;
      s.parameters = { maxTokens: 0 };
    }),
    field: "spec.parameters.maxTokens",
    message: "should be greater than or equal to 1",
  },
  {
    name: "an empty stop sequence",
    object: llmp((s) => {
      s.parameters = { stop: [""] };
    }),
    field: "spec.parameters.stop[0]",
    message: "should be at least 1 chars long",
  },
  ...["temperature", "topP"].flatMap((range) =>
    ["min", "max"].flatMap((end) => [
      {
        name: `a ${range} bound's ${end} below 0`,
        object: llmp((s) => {
          delete s.parameters;
          s.bounds = { [range]: { min: 0, max: 0, [end]: -1 } };
        }),
        field: `spec.bounds.${range}.${end}`,
        message: "should be greater than or equal to 0",
      },
      {
        name: `a ${range} bound's ${end} above its range`,
        object: llmp((s) => {
          delete s.parameters;
          s.bounds = { [range]: { min: 0, max: 0, [end]: 3 } };
        }),
        field: `spec.bounds.${range}.${end}`,
        message: `should be less than or equal to ${range === "temperature" ? 2 : 1}`,
      },
      {
        name: `a ${range} bound without its ${end}`,
        object: llmp((s) => {
          delete s.parameters;
          s.bounds = { [range]: { min: 0, max: 1, [end]: undefined } };
        }),
        field: `spec.bounds.${range}.${end}`,
        message: "Required value",
      },
    ]),
  ),
  {
    name: "a maxTokens bound of 0",
    object: llmp((s) => {
      delete s.parameters;
      s.bounds = { maxTokens: 0 };
    }),
    field: "spec.bounds.maxTokens",
    message: "should be greater than or equal to 1",
  },
  {
    name: "an unknown protocol",
    object: llmp((s) => set(s.context, "protocol", "embeddings")),
    field: "spec.context.protocol",
    message: 'supported values: "chat", "completion"',
  },
  {
    name: "an unknown history retention",
    object: llmp((s) => set(s.context.history ?? {}, "retention", "forever")),
    field: "spec.context.history.retention",
    message: 'supported values: "none", "session"',
  },
  {
    name: "a history of 0 turns",
    object: llmp((s) => {
      s.context.history = { retention: "session", ttlSeconds: 60, maxTurns: 0 };
    }),
    field: "spec.context.history.maxTurns",
    message: "should be greater than or equal to 1",
  },
  {
    name: "a session header with a space",
    object: llmp((s) => {
      s.context.history = { retention: "session", ttlSeconds: 60, maxTurns: 5, header: "x session" };
    }),
    field: "spec.context.history.header",
    message: "should match",
  },
  {
    name: "a template name that is not a DNS label",
    object: llmp((s) => {
      s.promptTemplates = [{ name: "Summarise", template: "Summarise.", variables: [] }];
    }),
    field: "spec.promptTemplates[0].name",
    message: "should match",
  },
  {
    name: "an empty template",
    object: llmp((s) => {
      s.promptTemplates = [{ name: "empty", template: "", variables: [] }];
    }),
    field: "spec.promptTemplates[0].template",
    message: "should be at least 1 chars long",
  },
  {
    name: "a template without a template",
    object: llmp((s) => {
      s.promptTemplates = [
        { name: "empty", variables: [] } as unknown as { name: string; template: string; variables: string[] },
      ];
    }),
    field: "spec.promptTemplates[0].template",
    message: "Required value",
  },
  {
    name: "a template variable given twice",
    object: llmp((s) => {
      s.promptTemplates = [{ name: "echo", template: "{{text}}", variables: ["text", "text"] }];
    }),
    field: "spec.promptTemplates[0].variables[1]",
    message: "Duplicate value",
  },
  {
    name: "a token budget without tokens per minute",
    object: llmp((s) => {
      s.tokenBudget = {} as { tokensPerMinute: number };
    }),
    field: "spec.tokenBudget.tokensPerMinute",
    message: "Required value",
  },
  {
    name: "token usage without output tokens",
    object: withStatus(profile, { usage: { inputTokens: 1 } }),
    field: "status.usage.outputTokens",
    message: "Required value",
    status: true,
  },
  {
    name: "token usage of one key given twice",
    object: withStatus(profile, {
      usage: {
        inputTokens: 2,
        outputTokens: 2,
        byKey: [
          { keyId: "a", inputTokens: 1, outputTokens: 1 },
          { keyId: "a", inputTokens: 1, outputTokens: 1 },
        ],
      },
    }),
    field: "status.usage.byKey[1]",
    message: "Duplicate value",
    status: true,
  },
  {
    name: "a token budget of 0",
    object: llmp((s) => {
      s.tokenBudget = { tokensPerMinute: 0 };
    }),
    field: "spec.tokenBudget.tokensPerMinute",
    message: "should be greater than or equal to 1",
  },
];

/** `obj` with the resourceVersion the server has now, for an update. */
async function withVersion<T extends KubeObject>(client: ResourceClient<T>, obj: T): Promise<T> {
  const live = await client.get(obj.metadata.name ?? "");
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: live.metadata.resourceVersion } };
}

describe("the operator's CRDs", () => {
  let access: ClusterAccess;
  let cluster: Cluster;
  let kubeconfig: string;
  const ns = uniqueName("operator-crds");
  let amds: ResourceClient<AIModelDeployment>;
  let ambs: ResourceClient<AIModelBinding>;
  let llmps: ResourceClient<LLMInvocationProfile>;

  const clientFor = (obj: KubeObject): ResourceClient<KubeObject> =>
    ({ AIModelDeployment: amds, AIModelBinding: ambs, LLMInvocationProfile: llmps })[
      obj.kind
    ] as ResourceClient<KubeObject>;

  before(async () => {
    access = await attachCluster();
    kubeconfig = access.kubeconfigPath;
    cluster = connect({ kubeconfig, env: {} });
    await installOperatorCrds(cluster.client, cluster.mapper);
    await cluster.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: ns } });
    amds = cluster.resource<AIModelDeployment>(aiResources.deployments).namespace(ns);
    ambs = cluster.resource<AIModelBinding>(aiResources.bindings).namespace(ns);
    llmps = cluster.resource<LLMInvocationProfile>(aiResources.profiles).namespace(ns);
  });

  after(async () => {
    await cluster
      ?.resource(namespacesGvr)
      .delete(ns)
      .catch(() => {});
    await cluster?.close();
  });

  it("accepts the examples and fills in the defaults", async () => {
    // All three first: later tests use them, whichever default is missing.
    const d = await amds.create(deployment());
    const b = await ambs.create(binding());
    const p = await llmps.create(profile());
    assert.equal(d.spec.framework, "vllm");
    assert.equal(d.spec.replicas, 1);
    assert.deepEqual(d.spec.endpoint?.methods, ["POST"]);
    assert.equal(d.spec.endpoint?.authentication?.header, "authorization");
    assert.deepEqual(d.spec.resources, { cpu: 2, memory: "8Gi", gpu: 1 }, "quantities stay as written, int or string");

    assert.equal(b.spec.provider, "openai");
    assert.equal(b.spec.authentication?.header, "authorization");
    assert.deepEqual(b.spec.routes, [{ path: "/v1", methods: ["POST"] }, { path: "/assistant" }]);

    assert.deepEqual(p.spec.context, {
      protocol: "chat",
      systemPrompt: "You are a concise assistant.",
      history: { retention: "session", ttlSeconds: 1800, maxTurns: 20 },
    });
  });

  it("defaults a bare profile's context and a template's variables", async () => {
    const bare = await llmps.create({
      apiVersion: "ai.kindwatch.dev/v1alpha1",
      kind: "LLMInvocationProfile",
      metadata: { name: "bare" },
      spec: { model: "m", promptTemplates: [{ name: "hello", template: "Say hello." }] },
    } as unknown as LLMInvocationProfile);
    assert.deepEqual(bare.spec.context, { protocol: "chat" });
    assert.deepEqual(bare.spec.promptTemplates, [{ name: "hello", template: "Say hello.", variables: [] }]);

    const withHistory = await llmps.create({
      apiVersion: "ai.kindwatch.dev/v1alpha1",
      kind: "LLMInvocationProfile",
      metadata: { name: "with-history" },
      spec: { model: "m", context: { history: {} } },
    } as unknown as LLMInvocationProfile);
    assert.deepEqual(withHistory.spec.context, {
      protocol: "chat",
      history: { retention: "none", ttlSeconds: 1800, maxTurns: 20 },
    });
  });

  it("keeps every status field of the types (none pruned), conditions keyed by type", async () => {
    const condition = (type: string, status: "True" | "False", reason: string) => ({
      type,
      status,
      observedGeneration: 1,
      lastTransitionTime: "2026-01-02T03:04:05Z",
      reason,
      message: `${type} is ${status}`,
    });
    const ready = condition("Ready", "True", "Live");
    const conditions = [ready, condition("Degraded", "False", "Live")];
    const route = {
      name: `amd.${ns}.qwen`,
      pathPrefix: "/models/qwen",
      upstream: "http://qwen:8000",
      breaker: "closed",
    };
    const d = await amds.get("qwen");
    const deploymentStatus: AIModelDeploymentStatus = {
      observedGeneration: 1,
      conditions,
      replicas: 1,
      readyReplicas: 1,
      selector: "app.kubernetes.io/instance=qwen",
      serviceUrl: `http://qwen.${ns}.svc:8000`,
      route,
    };
    assert.deepEqual((await amds.updateStatus({ ...d, status: deploymentStatus })).status, deploymentStatus);

    const b = await ambs.get("assistant");
    const bindingStatus: AIModelBindingStatus = {
      observedGeneration: 1,
      conditions,
      routes: [
        { ...route, name: `amb.${ns}.assistant.0`, pathPrefix: "/v1" },
        { ...route, name: `amb.${ns}.assistant.1`, pathPrefix: "/assistant", breaker: "open" },
      ],
      upstream: `http://qwen.${ns}.svc:8000`,
      fallbackUpstream: "https://api.openai.com",
      keyIds: ["team-a", "team-b"],
    };
    assert.deepEqual((await ambs.updateStatus({ ...b, status: bindingStatus })).status, bindingStatus);

    const p = await llmps.get("assistant");
    const profileStatus: LLMInvocationProfileStatus = {
      observedGeneration: 1,
      conditions,
      gatewayProfile: `llmp.${ns}.assistant`,
      usage: {
        inputTokens: 5_000_000_000,
        outputTokens: 12,
        byKey: [{ keyId: "team-a", inputTokens: 5_000_000_000, outputTokens: 12 }],
        gatewayBootId: "boot-1",
      },
    };
    assert.deepEqual((await llmps.updateStatus({ ...p, status: profileStatus })).status, profileStatus);

    const twice = { ...p, status: { ...profileStatus, conditions: [ready, ready] } };
    await assert.rejects(llmps.updateStatus(await withVersion(llmps, twice)), /Duplicate value/);
  });

  it("scales an AIModelDeployment through its scale subresource", async () => {
    const scale = await amds.getScale("qwen");
    assert.equal(scale.spec.replicas, 1, "spec.replicas");
    assert.equal(scale.status.replicas, 1, "status.replicas");
    assert.equal(scale.status.selector, "app.kubernetes.io/instance=qwen", "status.selector");
    await amds.updateScale("qwen", { ...scale, spec: { replicas: 3 } });
    assert.equal((await amds.get("qwen")).spec.replicas, 3);
    const { stdout } = await kubectl(kubeconfig, ["-n", ns, "scale", "amd/qwen", "--replicas", "2"]);
    assert.match(stdout, /scaled/);
    assert.equal((await amds.getScale("qwen")).spec.replicas, 2);
  });

  it("shows the printer columns and short names to kubectl, and every kind under the ai category", async () => {
    const table = async (kind: string) => (await kubectl(kubeconfig, ["-n", ns, "get", kind])).stdout;
    const rows = (text: string) =>
      text
        .trimEnd()
        .split("\n")
        .map((line) => line.split(/\s{2,}/));

    const [amdHead, amdRow] = rows(await table("amd"));
    assert.deepEqual(amdHead, ["NAME", "MODEL", "FRAMEWORK", "DESIRED", "READY", "STATUS", "AGE"]);
    assert.deepEqual(amdRow?.slice(0, 6), ["qwen", "Qwen/Qwen2.5-0.5B-Instruct", "vllm", "2", "1", "True"]);

    const [ambHead, ambRow] = rows(await table("amb"));
    assert.deepEqual(ambHead, ["NAME", "PROVIDER", "TARGET", "PATH", "STATUS", "AGE"]);
    assert.deepEqual(ambRow?.slice(0, 5), ["assistant", "openai", `http://qwen.${ns}.svc:8000`, "/v1", "True"]);

    const profiles = rows(await table("llmp"));
    assert.deepEqual(profiles[0], ["NAME", "MODEL", "PROTOCOL", "TOKENS/MIN", "STATUS", "AGE"]);
    const assistant = profiles.find((r) => r[0] === "assistant");
    assert.deepEqual(assistant?.slice(0, 5), ["assistant", "Qwen/Qwen2.5-0.5B-Instruct", "chat", "20000", "True"]);

    const all = await kubectlJson<{ items: KubeObject[] }>(kubeconfig, ["-n", ns, "get", "ai"]);
    const kinds = new Set(all.items.map((o) => o.kind));
    assert.deepEqual([...kinds].sort(), ["AIModelBinding", "AIModelDeployment", "LLMInvocationProfile"]);
  });

  it("describes the fields to kubectl explain", async () => {
    // kubectl wraps descriptions at 80 columns.
    const explain = async (path: string) => (await kubectl(kubeconfig, ["explain", path])).stdout.replace(/\s+/g, " ");
    assert.match(await explain("amd.spec.endpoint.path"), /The gateway path prefix the model answers on/);
    assert.match(await explain("amb.spec.target"), /exactly one of deploymentRef, serviceRef and url/);
    assert.match(await explain("llmp.spec.context.history"), /ignored unless retention is `session`/);
    assert.match(await explain("llmp.status.usage"), /Tokens counted by the gateway since it started/);
  });

  for (const bad of rejections) {
    it(`refuses ${bad.name}`, async () => {
      const obj = bad.object();
      const client = clientFor(obj);
      const write = bad.status
        ? client.updateStatus(await withVersion(client, obj), { dryRun: true })
        : client.create(obj, { dryRun: true });
      await assert.rejects(write, (err: unknown) => {
        assert.ok(err instanceof ApiError, `an ApiError, not ${String(err)}`);
        assert.equal(err.status, 422, err.message);
        const causes = err.causes.map((c) => `${c.field ?? "<nil>"}: ${c.message ?? ""}`);
        assert.ok(
          err.causes.some((c) => (c.field ?? "<nil>") === bad.field && c.message?.includes(bad.message)),
          `a cause at ${bad.field} saying "${bad.message}", got:\n${causes.join("\n")}`,
        );
        return true;
      });
    });
  }
});
