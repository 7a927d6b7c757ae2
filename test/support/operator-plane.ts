/**
 * The operator on the bare plane for tests: the CRDs applied, a real `kindwatch gateway` process, the stand-in model
 * server, and `startOperator` in this process (bindings and profiles) watching a namespace of the test's own, its log
 * lines kept so that tests can search them.
 */
import { type Cluster, connect } from "../../src/connect.js";
import type { GatewayStateView } from "../../src/gateway/admin.js";
import { type GatewayDriver, HttpGatewayDriver } from "../../src/gateway/driver.js";
import type { KeySetSpec, ProfileSpec, RouteSpec } from "../../src/gateway/state.js";
import type { Condition, KubeObject } from "../../src/object/types.js";
import { type OperatorController, type OperatorHandle, startOperator } from "../../src/operator/operator.js";
import { aiApiVersion, aiResources } from "../../src/operator/types.js";
import { type ClientEnv, clientEnv } from "./client.js";
import { GatewayProcess } from "./gateway.js";
import { OpenAIUpstream } from "./openai-upstream.js";
import { installOperatorCrds } from "./operator.js";
import { waitFor } from "./wait.js";

/** Core `v1/secrets`. */
export const secretsGvr = { group: "", version: "v1", resource: "secrets" } as const;
/** `events.k8s.io/v1/events`. */
export const eventsGvr = { group: "events.k8s.io", version: "v1", resource: "events" } as const;

/** An Event as the recorder writes it. */
export interface RecordedEvent extends KubeObject {
  reason?: string;
  note?: string;
  type?: string;
  regarding?: { name?: string; kind?: string };
}

/**
 * The operator's gateway driver, whose state reads (the monitor's polls) a test can hold: what goes live while they are
 * held went live with no poll on its path.
 */
class PollHoldingDriver implements GatewayDriver {
  readonly #driver: GatewayDriver;
  /** Settles when the polls held are released; undefined while they are not held. */
  #held: Promise<void> | undefined;
  #reading: Promise<unknown> = Promise.resolve();

  constructor(driver: GatewayDriver) {
    this.#driver = driver;
  }

  get bootId(): string | undefined {
    return this.#driver.bootId;
  }

  applyRoute(spec: RouteSpec) {
    return this.#driver.applyRoute(spec);
  }

  applyKeySet(spec: KeySetSpec) {
    return this.#driver.applyKeySet(spec);
  }

  applyProfile(spec: ProfileSpec) {
    return this.#driver.applyProfile(spec);
  }

  deleteRoute(name: string) {
    return this.#driver.deleteRoute(name);
  }

  deleteKeySet(name: string) {
    return this.#driver.deleteKeySet(name);
  }

  deleteProfile(name: string) {
    return this.#driver.deleteProfile(name);
  }

  async state(): Promise<GatewayStateView> {
    while (this.#held) await this.#held;
    const reading = this.#driver.state();
    this.#reading = reading.catch(() => undefined);
    return reading;
  }

  /** Holds every state read from now on, once the one in flight (if any) was answered and handled; returns the release. */
  async hold(): Promise<() => void> {
    let release = () => {};
    this.#held = new Promise<void>((resolve) => {
      release = () => {
        this.#held = undefined;
        resolve();
      };
    });
    await this.#reading;
    // The monitor handles an answer in the microtasks that follow it: all of them have run by the next turn.
    await new Promise((resolve) => setImmediate(resolve));
    return release;
  }
}

/** A test's operator and everything around it. */
export class OperatorPlane {
  readonly env: ClientEnv;
  readonly cluster: Cluster;
  gateway: GatewayProcess;
  readonly upstream: OpenAIUpstream;
  operator: OperatorHandle | undefined;
  #driver: PollHoldingDriver | undefined;
  /** Every line the operator logged, as JSON text. */
  readonly logs: string[] = [];

  private constructor(env: ClientEnv, cluster: Cluster, gateway: GatewayProcess, upstream: OpenAIUpstream) {
    this.env = env;
    this.cluster = cluster;
    this.gateway = gateway;
    this.upstream = upstream;
  }

  /** Sets the plane up; the operator starts with {@link OperatorPlane.start}. */
  static async create(prefix: string): Promise<OperatorPlane> {
    const env = await clientEnv(prefix);
    const cluster = connect({ kubeconfig: env.cluster.kubeconfigPath, env: {} });
    await installOperatorCrds(cluster.client, cluster.mapper);
    const [gateway, upstream] = await Promise.all([GatewayProcess.start(), OpenAIUpstream.start("model")]);
    return new OperatorPlane(env, cluster, gateway, upstream);
  }

  get namespace(): string {
    return this.env.namespace;
  }

  /** Starts the operator on this plane's gateway; every Service URL is the stand-in model's (no Pod network here). */
  async start(controllers: readonly OperatorController[] = ["bindings", "profiles"]): Promise<OperatorHandle> {
    this.#driver = new PollHoldingDriver(
      new HttpGatewayDriver({ url: this.gateway.adminUrl, token: this.gateway.token }),
    );
    this.operator = await startOperator({
      cluster: this.cluster,
      gateway: { driver: this.#driver },
      namespace: this.namespace,
      controllers,
      serviceUrlTemplate: this.upstream.url,
      pollMs: 200,
      logger: (level, message, fields = {}) => this.logs.push(JSON.stringify({ level, message, ...fields })),
    });
    return this.operator;
  }

  /**
   * Runs `fn` while the operator's monitor cannot read the gateway's state (a read in flight has answered first): what
   * `fn` sees go live went live with no poll on its path.
   */
  async withoutPolls<T>(fn: () => Promise<T>): Promise<T> {
    if (!this.#driver) throw new Error("the operator is not started");
    const release = await this.#driver.hold();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** A client for one of the operator's kinds in this plane's namespace. */
  kind<T extends KubeObject = KubeObject>(kind: keyof typeof aiResources) {
    return this.cluster.client.resource<T>(aiResources[kind]).namespace(this.namespace);
  }

  /** Creates an object of one of the operator's kinds. */
  create(kind: keyof typeof aiResources, name: string, spec: Record<string, unknown>): Promise<KubeObject> {
    const kinds = { deployments: "AIModelDeployment", bindings: "AIModelBinding", profiles: "LLMInvocationProfile" };
    return this.kind(kind).create({ apiVersion: aiApiVersion, kind: kinds[kind], metadata: { name }, spec });
  }

  /** Creates a Secret whose data keys are API keys. */
  secret(name: string, keys: Record<string, string>): Promise<KubeObject> {
    const data = Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, Buffer.from(v).toString("base64")]));
    return this.cluster.client
      .resource(secretsGvr)
      .namespace(this.namespace)
      .create({ apiVersion: "v1", kind: "Secret", metadata: { name }, data } as KubeObject);
  }

  /** Waits until the object is Ready for its current generation and returns it. */
  ready(kind: keyof typeof aiResources, name: string, timeoutMs = 15_000): Promise<KubeObject> {
    return waitFor(
      `${kind}/${name} to be Ready`,
      async () => {
        const obj = await this.kind(kind).get(name);
        const status = (obj as { status?: { observedGeneration?: number } }).status;
        return conditionOf(obj, "Ready")?.status === "True" && status?.observedGeneration === obj.metadata.generation
          ? obj
          : undefined;
      },
      { timeoutMs },
    );
  }

  /** Waits until the object is Degraded for `reason` and returns it. */
  degraded(kind: keyof typeof aiResources, name: string, reason: string): Promise<KubeObject> {
    return waitFor(`${kind}/${name} to be Degraded (${reason})`, async () => {
      const obj = await this.kind(kind).get(name);
      const c = conditionOf(obj, "Degraded");
      return c?.status === "True" && c.reason === reason ? obj : undefined;
    });
  }

  /** The Events of this namespace about the object named `name`. */
  async events(name: string): Promise<RecordedEvent[]> {
    const list = await this.cluster.client.resource(eventsGvr).namespace(this.namespace).list();
    return (list.items as RecordedEvent[]).filter((e) => e.regarding?.name === name);
  }

  /** The gateway's admin state. */
  async state(): Promise<GatewayState> {
    return (await this.gateway.state()) as unknown as GatewayState;
  }

  /** Stops everything. */
  async close(): Promise<void> {
    await this.operator?.stop();
    await Promise.all([this.gateway.stop(), this.upstream.stop()]);
    await this.cluster.close();
    await this.env.close();
  }
}

/** `/admin/v1/state`, as far as the tests read it. */
export interface GatewayState {
  bootId: string;
  routes: {
    name: string;
    source: { uid: string; generation: number };
    limit?: { requestsPerSecond: number; burst: number };
  }[];
  keysets: { name: string; keys: { id: string }[] }[];
  profiles: { name: string; systemPrompt?: string }[];
  usage?: { profiles: { name: string; inputTokens: number; outputTokens: number }[] };
}

/** The condition of `type` on `obj`. */
export function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  return (obj as { status?: { conditions?: Condition[] } }).status?.conditions?.find((c) => c.type === type);
}
