/**
 * The CRDs of `deploy/crds/` and the interfaces of `src/operator/types.ts` describe the same objects. Each kind's
 * spec and status is written out below as a {@link Shape} of its interface, which the compiler holds to the interface:
 * every field, no other, each marked optional exactly when the interface says so, enums within the interface's union.
 * The test then holds the CRD's schema to the same shape: the same properties, types and enums, and a field is optional
 * in the interface exactly when the schema neither requires it nor gives it a default (the interfaces describe objects
 * as the API server returns them, defaults applied).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { parse } from "yaml";
import type { Condition } from "../../src/object/types.js";
import type {
  AIModelBindingSpec,
  AIModelBindingStatus,
  AIModelDeploymentSpec,
  AIModelDeploymentStatus,
  LLMInvocationProfileSpec,
  LLMInvocationProfileStatus,
} from "../../src/operator/types.js";
import { operatorCrdsDir } from "../support/operator.js";

/** What the schema of a value of type `V` must be. */
type Kind<V> = [V] extends [Condition[]]
  ? { conditions: true }
  : [V] extends [string]
    ? string extends V
      ? { type: "string" }
      : { enum: readonly V[] }
    : [V] extends [number]
      ? { type: "number" | "integer" }
      : [V] extends [string | number]
        ? { type: "int-or-string" }
        : [V] extends [readonly (infer E)[]]
          ? { items: Kind<E> }
          : [V] extends [object]
            ? { properties: Shape<V> }
            : never;

/** Every field of `T`, optional or not, with whether it is optional and the schema of its value. */
type Shape<T> = {
  [K in keyof T]-?: Kind<Exclude<T[K], undefined>> & { optional: object extends Pick<T, K> ? true : false };
};

const str = { type: "string" } as const;
const int = { type: "integer" } as const;
const req = { optional: false } as const;
const opt = { optional: true } as const;

const authentication = {
  secretRef: { ...req, properties: { name: { ...req, ...str } } },
  keys: { ...opt, items: str },
  header: { ...req, ...str },
} as const;

const rateLimit = { requestsPerSecond: { ...req, type: "number" }, burst: { ...opt, ...int } } as const;

const liveRoute = {
  name: { ...req, ...str },
  pathPrefix: { ...req, ...str },
  upstream: { ...req, ...str },
  breaker: { ...opt, ...str },
} as const;

const target = {
  deploymentRef: { ...opt, properties: { name: { ...req, ...str } } },
  serviceRef: { ...opt, properties: { name: { ...req, ...str }, port: { ...req, ...int } } },
  url: { ...opt, ...str },
} as const;

const statusBase = { observedGeneration: { ...opt, ...int }, conditions: { ...opt, conditions: true } } as const;

const deploymentSpec: Shape<AIModelDeploymentSpec> = {
  model: { ...req, properties: { name: { ...req, ...str }, version: { ...opt, ...str } } },
  framework: { ...req, enum: ["vllm", "ollama", "tgi", "custom"] },
  image: { ...req, ...str },
  hardwareClass: { ...opt, ...str },
  replicas: { ...req, ...int },
  resources: {
    ...opt,
    properties: {
      cpu: { ...opt, type: "int-or-string" },
      memory: { ...opt, type: "int-or-string" },
      gpu: { ...opt, ...int },
    },
  },
  port: { ...opt, ...int },
  args: { ...opt, items: str },
  env: { ...opt, items: { properties: { name: { ...req, ...str }, value: { ...req, ...str } } } },
  endpoint: {
    ...opt,
    properties: {
      path: { ...req, ...str },
      methods: { ...req, items: str },
      authentication: { ...opt, properties: authentication },
      rateLimit: { ...opt, properties: rateLimit },
    },
  },
};

const deploymentStatus: Shape<AIModelDeploymentStatus> = {
  ...statusBase,
  replicas: { ...opt, ...int },
  readyReplicas: { ...opt, ...int },
  selector: { ...opt, ...str },
  serviceUrl: { ...opt, ...str },
  route: { ...opt, properties: liveRoute },
};

const bindingSpec: Shape<AIModelBindingSpec> = {
  target: { ...req, properties: target },
  provider: { ...req, enum: ["openai", "http"] },
  model: { ...opt, ...str },
  host: { ...opt, ...str },
  routes: {
    ...req,
    items: {
      properties: { path: { ...req, ...str }, methods: { ...opt, items: str }, keys: { ...opt, items: str } },
    },
  },
  fallback: { ...opt, properties: target },
  timeouts: {
    ...opt,
    properties: { connect: { ...opt, ...str }, firstByte: { ...opt, ...str }, total: { ...opt, ...str } },
  },
  rateLimit: { ...opt, properties: rateLimit },
  authentication: { ...opt, properties: authentication },
  profileRef: { ...opt, properties: { name: { ...req, ...str } } },
};

const bindingStatus: Shape<AIModelBindingStatus> = {
  ...statusBase,
  routes: { ...opt, items: { properties: liveRoute } },
  upstream: { ...opt, ...str },
  fallbackUpstream: { ...opt, ...str },
  keyIds: { ...opt, items: str },
};

const range = { min: { ...req, type: "number" }, max: { ...req, type: "number" } } as const;

const profileSpec: Shape<LLMInvocationProfileSpec> = {
  model: { ...req, ...str },
  parameters: {
    ...opt,
    properties: {
      temperature: { ...opt, type: "number" },
      topP: { ...opt, type: "number" },
      maxTokens: { ...opt, ...int },
      stop: { ...opt, items: str },
    },
  },
  bounds: {
    ...opt,
    properties: {
      temperature: { ...opt, properties: range },
      topP: { ...opt, properties: range },
      maxTokens: { ...opt, ...int },
    },
  },
  context: {
    ...req,
    properties: {
      protocol: { ...req, enum: ["chat", "completion"] },
      systemPrompt: { ...opt, ...str },
      history: {
        ...opt,
        properties: {
          retention: { ...req, enum: ["none", "session"] },
          ttlSeconds: { ...req, ...int },
          maxTurns: { ...req, ...int },
          header: { ...opt, ...str },
        },
      },
    },
  },
  promptTemplates: {
    ...opt,
    items: {
      properties: { name: { ...req, ...str }, template: { ...req, ...str }, variables: { ...req, items: str } },
    },
  },
  tokenBudget: { ...opt, properties: { tokensPerMinute: { ...req, ...int } } },
};

const profileStatus: Shape<LLMInvocationProfileStatus> = {
  ...statusBase,
  gatewayProfile: { ...opt, ...str },
  usage: {
    ...opt,
    properties: {
      inputTokens: { ...req, ...int },
      outputTokens: { ...req, ...int },
      byKey: {
        ...opt,
        items: {
          properties: { keyId: { ...req, ...str }, inputTokens: { ...req, ...int }, outputTokens: { ...req, ...int } },
        },
      },
      gatewayBootId: { ...opt, ...str },
    },
  },
};

/** An OpenAPI schema node, as far as this test reads it. */
interface Schema {
  type?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  default?: unknown;
  "x-kubernetes-int-or-string"?: boolean;
  "x-kubernetes-list-type"?: string;
  "x-kubernetes-list-map-keys"?: string[];
}

/** A shape's node at run time: the type-level guarantees are behind us. */
interface Expected {
  type?: string;
  enum?: readonly string[];
  conditions?: true;
  items?: Expected;
  properties?: Record<string, Expected & { optional: boolean }>;
}

/** Where `schema` differs from `expected`, one line per difference, each naming the field's path. */
function differences(path: string, schema: Schema, expected: Expected): string[] {
  if (expected.conditions) {
    const ok =
      schema.type === "array" &&
      schema["x-kubernetes-list-type"] === "map" &&
      schema["x-kubernetes-list-map-keys"]?.join() === "type" &&
      ["type", "status", "lastTransitionTime"].every((f) => schema.items?.required?.includes(f)) &&
      Object.keys(schema.items?.properties ?? {})
        .sort()
        .join() === "lastTransitionTime,message,observedGeneration,reason,status,type";
    return ok ? [] : [`${path}: not a list of metav1.Condition keyed by type`];
  }
  if (expected.type === "int-or-string") {
    return schema["x-kubernetes-int-or-string"] ? [] : [`${path}: not x-kubernetes-int-or-string`];
  }
  if (expected.type) return schema.type === expected.type ? [] : [`${path}: type ${schema.type}, not ${expected.type}`];
  if (expected.enum) {
    const problems = schema.type === "string" ? [] : [`${path}: type ${schema.type}, not string`];
    if (JSON.stringify(schema.enum) !== JSON.stringify(expected.enum)) {
      problems.push(`${path}: enum ${JSON.stringify(schema.enum)}, not ${JSON.stringify(expected.enum)}`);
    }
    return problems;
  }
  if (expected.items) {
    if (schema.type !== "array" || !schema.items) return [`${path}: not an array`];
    return differences(`${path}[]`, schema.items, expected.items);
  }
  const properties = expected.properties ?? {};
  if (schema.type !== "object") return [`${path}: type ${schema.type}, not object`];
  const problems: string[] = [];
  const names = new Set([...Object.keys(properties), ...Object.keys(schema.properties ?? {})]);
  for (const name of names) {
    const field = schema.properties?.[name];
    const want = properties[name];
    const at = `${path}.${name}`;
    if (!field) problems.push(`${at}: in the interface, not in the schema`);
    else if (!want) problems.push(`${at}: in the schema, not in the interface`);
    else {
      const alwaysThere = (schema.required ?? []).includes(name) || field.default !== undefined;
      if (want.optional === alwaysThere) {
        problems.push(
          `${at}: ${want.optional ? "optional" : "required"} in the interface, but the schema ${alwaysThere ? "requires or defaults it" : "neither requires nor defaults it"}`,
        );
      }
      problems.push(...differences(at, field, want));
    }
  }
  return problems;
}

/** The root schema of a CRD file of `deploy/crds/`. */
function rootSchema(file: string): Schema {
  const crd = parse(readFileSync(`${operatorCrdsDir}${file}`, "utf8")) as {
    spec: { versions: { schema: { openAPIV3Schema: Schema } }[] };
  };
  const version = crd.spec.versions[0];
  assert.ok(version, `${file} has a version`);
  return version.schema.openAPIV3Schema;
}

describe("the operator's CRDs and src/operator/types.ts", () => {
  const kinds = [
    { file: "aimodeldeployments.yaml", spec: deploymentSpec, status: deploymentStatus },
    { file: "aimodelbindings.yaml", spec: bindingSpec, status: bindingStatus },
    { file: "llminvocationprofiles.yaml", spec: profileSpec, status: profileStatus },
  ];
  for (const { file, spec, status } of kinds) {
    it(`${file} has the interfaces' fields, types, enums and optional fields`, () => {
      // metadata is Kubernetes' ObjectMeta; a schema may only restrict its name.
      const { metadata: _, ...properties } = rootSchema(file).properties ?? {};
      const root = { ...rootSchema(file), properties };
      const expected: Expected = {
        properties: {
          apiVersion: { ...req, ...str },
          kind: { ...req, ...str },
          spec: { ...req, properties: spec },
          status: { ...opt, properties: status },
        },
      };
      const problems = differences(
        "",
        { ...root, required: [...(root.required ?? []), "apiVersion", "kind"] },
        expected,
      );
      assert.deepEqual(problems, []);
    });
  }
});
