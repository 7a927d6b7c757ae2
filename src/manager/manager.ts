/**
 * The Manager: runs controllers in one process, with controller-runtime's lifecycle. Informers sync on every replica;
 * with leader election only the leader reconciles; `/metrics`, `/healthz` and `/readyz` on one HTTP port; a graceful
 * stop drains reconciles in flight before the Lease is released.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Gauge, Registry } from "prom-client";
import type { Logger, LoggerOption } from "../cache/log.js";
import type { Controller, ControllerCluster } from "../controller/controller.js";
import type { Transport } from "../http/transport.js";
import { instrument } from "../metrics/prometheus.js";
import { jsonLogger } from "./json-logger.js";
import { LeaderElector, type LeaderElectorOptions } from "./leader.js";

/** Leader election of a {@link Manager}: the Lease and its timing (controller-runtime's defaults: 15 s, 10 s, 2 s). */
export type ManagerLeaderElection = Pick<
  LeaderElectorOptions,
  | "namespace"
  | "name"
  | "identity"
  | "leaseDurationMs"
  | "renewDeadlineMs"
  | "retryPeriodMs"
  | "onNewLeader"
  | "clock"
  | "wallClock"
>;

/** Where a {@link Manager} serves `/metrics`, `/healthz` and `/readyz`. */
export interface ManagerListen {
  /** Host or address to bind; default all addresses. */
  readonly host?: string | undefined;
  /** TCP port; 0 picks a free one (see {@link Manager.address}). */
  readonly port: number;
}

/** What a manager needs of a cluster: a `Cluster` is one. With a transport, its requests are counted in `/metrics`. */
export interface ManagerCluster extends ControllerCluster {
  /** The cluster's transport: `rest_client_*` metrics come from it, `kindwatch_cache_*` from `informers`. */
  readonly transport?: Transport | undefined;
}

/** Options of a {@link Manager}. */
export interface ManagerOptions {
  /** Elect one reconciling replica on a Lease; off (every replica reconciles) when undefined or false. */
  readonly leaderElection?: ManagerLeaderElection | false | undefined;
  /** Serve `/metrics`, `/healthz` and `/readyz` there; no HTTP server when undefined. */
  readonly listen?: ManagerListen | undefined;
  /** The Prometheus registry served on `/metrics`; default a new one, see {@link Manager.registry}. */
  readonly registry?: Registry | undefined;
  /**
   * The manager's logger, also given to controllers built without one; default {@link jsonLogger} (JSON lines on
   * stderr, level info). "none" for silence.
   */
  readonly logger?: LoggerOption | undefined;
  /**
   * How long a graceful stop waits for reconciles in flight before it aborts their signal (controller-runtime's
   * GracefulShutdownTimeout); default each controller's own `drainTimeoutMs` (30 s unless set).
   */
  readonly gracefulShutdownTimeoutMs?: number | undefined;
}

/** What a manager's `/readyz` answers. */
export interface ManagerReadiness {
  /** Whether every controller's caches have synced. */
  readonly ready: boolean;
  /** Why not, one line per controller still syncing (empty when ready). */
  readonly reasons: readonly string[];
}

/**
 * Thrown by {@link Manager.run} when this replica lost the leadership: its reconciles were aborted at once. Exit the
 * process with a non-zero code (as controller-runtime's manager does), so that it restarts as a fresh candidate.
 */
export class LeaderElectionLostError extends Error {
  /** The error's name, for logs and `instanceof`-free checks. */
  override readonly name = "LeaderElectionLostError";
  /** The Lease, as `namespace/name`. */
  readonly lease: string;
  /** This replica's identity. */
  readonly identity: string;

  /** An error for the loss of `lease` by `identity`. */
  constructor(lease: string, identity: string) {
    super(`leader election lost: ${identity} no longer holds the Lease ${lease}`);
    this.lease = lease;
    this.identity = identity;
  }
}

/**
 * Runs controllers in one process, like controller-runtime's manager.
 *
 * @example
 * ```ts
 * const mgr = new Manager(cluster, {
 *   leaderElection: { namespace: "operators", name: "widgets-operator" },
 *   listen: { port: 8080 },
 * });
 * mgr.add(widgetsController);
 * await mgr.run(setupSignalHandler()); // rejects with LeaderElectionLostError: exit non-zero
 * ```
 */
export class Manager {
  /** The registry `/metrics` serves: register your own metrics on it. */
  readonly registry: Registry;
  /** The leader elector, when leader election is on. */
  readonly elector: LeaderElector | undefined;
  readonly #options: ManagerOptions;
  readonly #log: Logger | undefined;
  readonly #controllers: Controller[] = [];
  readonly #synced = new Set<Controller>();
  #server: Server | undefined;
  #running = false;
  #leading = false;
  /** What this run does when it starts leading: set by `run`. */
  #onStartedLeading: (work: AbortSignal) => Promise<void> | undefined = () => undefined;

  /** A manager on `cluster`; nothing runs before {@link Manager.run}. */
  constructor(cluster: ManagerCluster, options: ManagerOptions = {}) {
    this.#options = options;
    this.registry = options.registry ?? new Registry();
    if (cluster.transport)
      instrument(this.registry, { cluster: { transport: cluster.transport, informers: cluster.informers } });
    this.#log = options.logger === "none" ? undefined : (options.logger ?? jsonLogger());
    const election = options.leaderElection;
    if (election) {
      const elector = new LeaderElector(cluster.client, {
        ...election,
        logger: this.#log ?? "none",
        onStartedLeading: (work) => this.#onStartedLeading(work),
      });
      this.elector = elector;
      new Gauge({
        name: "leader_election_master_status",
        help: "Gauge of if the reporting system is master of the relevant lease, 0 indicates backup, 1 indicates master. 'name' is the string used to identify the lease.",
        labelNames: ["name"],
        registers: [this.registry],
        collect() {
          this.set({ name: election.name }, elector.isLeader() ? 1 : 0);
        },
      });
    }
  }

  /** Adds controllers to run; not while running. */
  add(...controllers: Controller[]): this {
    if (this.#running) throw new Error("manager: add controllers before run");
    this.#controllers.push(...controllers);
    instrument(this.registry, { controllers });
    return this;
  }

  /** Where the HTTP server listens, once it does (the port chosen for port 0 included); undefined otherwise. */
  address(): { host: string; port: number } | undefined {
    const address = this.#server?.address() as AddressInfo | null | undefined;
    return address ? { host: address.address, port: address.port } : undefined;
  }

  /** Whether this replica reconciles now: always while running without leader election, else while it leads. */
  isLeader(): boolean {
    return this.#leading;
  }

  /** What `/readyz` answers now: ready once every controller's caches have synced, on the leader and standbys alike. */
  readiness(): ManagerReadiness {
    if (!this.#running) return { ready: false, reasons: ["manager: not running"] };
    const reasons = this.#controllers
      .filter((c) => !this.#synced.has(c))
      .map((c) => `controller ${c.name}: caches not synced`);
    return { ready: reasons.length === 0, reasons };
  }

  /**
   * Runs every controller until `signal` aborts: their informers sync at once; they reconcile while this replica leads
   * (always, without leader election). On the signal: stop taking keys, drain reconciles in flight (up to the graceful
   * shutdown timeout), then release the Lease and close the HTTP server. Rejects with {@link LeaderElectionLostError}
   * when leadership is lost (reconciles in flight are aborted at once; `run` settles once they returned, so reconcilers
   * must honour `ctx.signal`), or with the first controller's failure (after stopping the others).
   */
  async run(signal?: AbortSignal): Promise<void> {
    if (this.#running) throw new Error("manager: already running");
    this.#running = true;
    this.#synced.clear();
    const stop = new AbortController();
    const halt = new AbortController();
    const onSignal = () => {
      this.#log?.("info", "manager: stopping, draining reconciles in flight", {});
      stop.abort();
    };
    if (signal?.aborted) stop.abort();
    else signal?.addEventListener("abort", onSignal, { once: true });
    let failure: { error: unknown } | undefined;
    let lost = false;
    try {
      await this.#listen();
      let startLeading = () => {};
      const leading = new Promise<void>((resolve) => {
        startLeading = resolve;
      });
      const runs = Promise.all(
        this.#controllers.map((c) =>
          c
            .run(stop.signal, {
              leading,
              halt: halt.signal,
              onSynced: () => this.#synced.add(c),
              drainTimeoutMs: this.#options.gracefulShutdownTimeoutMs,
              logger: this.#log ?? (() => {}),
            })
            .catch((error: unknown) => {
              if (!failure) {
                failure = { error };
                this.#log?.("error", "manager: a controller failed, stopping", {
                  controller: c.name,
                  error: error instanceof Error ? error.message : String(error),
                });
              }
              stop.abort();
            }),
        ),
      );
      const elector = this.elector;
      if (!elector) {
        this.#leading = true;
        startLeading();
      } else {
        await this.#elect(elector, stop, halt, startLeading, runs, () => {
          lost = true;
        });
      }
      await runs;
    } finally {
      signal?.removeEventListener("abort", onSignal);
      this.#leading = false;
      await this.#close();
      this.#running = false;
    }
    if (failure) throw failure.error;
    if (lost) {
      const status = this.elector?.status();
      throw new LeaderElectionLostError(status?.lease ?? "", status?.identity ?? "");
    }
  }

  /** Stands for election until `stop` aborts or leadership is lost; reconciling starts with the leadership. */
  async #elect(
    elector: LeaderElector,
    stop: AbortController,
    halt: AbortController,
    startLeading: () => void,
    runs: Promise<unknown>,
    onLost: () => void,
  ): Promise<void> {
    this.#onStartedLeading = (work) => {
      // The work signal aborts on a graceful stop too; only an abort before the stop is a loss.
      work.addEventListener(
        "abort",
        () => {
          this.#leading = false;
          if (stop.signal.aborted) return;
          onLost();
          halt.abort();
          stop.abort();
        },
        { once: true },
      );
      this.#leading = !work.aborted;
      startLeading();
      // Awaited before the Lease is released: the next leader never overlaps with the drain.
      return runs.then(() => {});
    };
    await elector.run(stop.signal);
  }

  async #listen(): Promise<void> {
    const listen = this.#options.listen;
    if (!listen) return;
    const server = createServer((req, res) => {
      this.#serve(req, res).catch((err: unknown) => {
        this.#log?.("error", "manager: serving an HTTP request failed", {
          path: req.url ?? "",
          error: err instanceof Error ? err.message : String(err),
        });
        if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
        res.end("internal error\n");
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(listen.port, listen.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    this.#server = server;
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? "/", "http://manager").pathname;
    const text = (status: number, body: string) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8" });
      res.end(body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return text(405, "method not allowed\n");
    if (path === "/metrics") {
      const body = await this.registry.metrics();
      res.writeHead(200, { "content-type": this.registry.contentType });
      res.end(body);
      return;
    }
    if (path === "/healthz") return this.#running ? text(200, "ok\n") : text(503, "manager: not running\n");
    if (path === "/readyz") {
      const { ready, reasons } = this.readiness();
      return ready ? text(200, "ok\n") : text(503, `${reasons.join("\n")}\n`);
    }
    text(404, "not found\n");
  }

  async #close(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}

let shutdown: AbortSignal | undefined;

/**
 * An AbortSignal that aborts on the process's first SIGTERM or SIGINT, for {@link Manager.run}; a second one exits the
 * process at once with code 1, as controller-runtime's `SetupSignalHandler` does. Every call returns the same signal.
 */
export function setupSignalHandler(): AbortSignal {
  if (shutdown) return shutdown;
  const controller = new AbortController();
  shutdown = controller.signal;
  const onSignal = (name: NodeJS.Signals) => {
    if (!controller.signal.aborted) controller.abort(new Error(`received ${name}`));
    else process.exit(1);
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
  return shutdown;
}
