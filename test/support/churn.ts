/**
 * A load that creates, updates and deletes ConfigMaps (or objects of any kind) while faults happen, and keeps its own record of what exists.
 * Each worker owns a disjoint set of names, so no two calls race on one object. A call that fails because the server
 * is away (or answered nothing) is retried until it is back; a retried create or delete whose first attempt did land
 * is recognised by its AlreadyExists or NotFound, so the record stays the truth.
 */
import type { ResourceClient } from "../../src/client/resource.js";
import { ApiError } from "../../src/http/errors.js";
import type { KubeObject } from "../../src/object/types.js";

/** What to do next to a name. */
export type ChurnOp = "create" | "update" | "delete";

/** Settings of a {@link Churn}. */
export interface ChurnOptions {
  /** A namespaced client: of ConfigMaps, or of the kind that `object` and `update` make. */
  readonly resource: ResourceClient;
  /** The object created as `name`'s `n`th operation; default a ConfigMap with `data.n`. */
  readonly object?: (name: string, n: number) => KubeObject;
  /** The merge patch of `name`'s `n`th operation, an update; default `{ data: { n } }`. */
  readonly update?: (n: number) => Record<string, unknown>;
  readonly names: readonly string[];
  readonly concurrency: number;
  /** The next operation on `name`, which exists now or not and has had `done` operations; undefined: leave it be. */
  readonly next: (name: string, exists: boolean, done: number) => ChurnOp | undefined;
  /** How long one call may keep failing (the server down) before the churn gives up; default 60 s. */
  readonly retryForMs?: number;
}

/** Random operations forever: create what is missing, else update (2 in 3) or delete. */
export const randomOps = (_name: string, exists: boolean): ChurnOp =>
  !exists ? "create" : Math.random() < 2 / 3 ? "update" : "delete";

function transient(err: unknown): boolean {
  if (!(err instanceof ApiError)) return false;
  return err.transient || err.status === 0 || err.kind === "Unknown";
}

/** Runs the load until every name is left be, or {@link stop} is called. */
export class Churn {
  /** Names that exist now, as the churn's own calls say. */
  readonly exists = new Set<string>();
  readonly counts = { create: 0, update: 0, delete: 0, retried: 0 };
  /** Resolves when the workers have ended; rejects if a call failed for good. */
  readonly done: Promise<void>;
  readonly #options: ChurnOptions;
  #stopping = false;

  constructor(options: ChurnOptions) {
    this.#options = options;
    const workers = Array.from({ length: options.concurrency }, (_, w) =>
      this.#work(options.names.filter((_, i) => i % options.concurrency === w)),
    );
    this.done = Promise.all(workers).then(() => undefined);
  }

  /** Operations completed so far. */
  get total(): number {
    return this.counts.create + this.counts.update + this.counts.delete;
  }

  /** Lets each worker finish its current call (retries included), then end. */
  async stop(): Promise<void> {
    this.#stopping = true;
    await this.done;
  }

  async #work(names: readonly string[]): Promise<void> {
    const done = new Map<string, number>();
    let active = [...names];
    while (!this.#stopping && active.length > 0) {
      const still: string[] = [];
      for (const name of active) {
        if (this.#stopping) return;
        const n = done.get(name) ?? 0;
        const op = this.#options.next(name, this.exists.has(name), n);
        if (!op) continue;
        still.push(name);
        await this.#apply(name, op, n);
        done.set(name, n + 1);
      }
      active = still;
    }
  }

  async #apply(name: string, op: ChurnOp, n: number): Promise<void> {
    const { resource: cms, object, update } = this.#options;
    switch (op) {
      case "create":
        await this.#retry(async (again) => {
          try {
            await cms.create(
              object?.(name, n) ?? { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { n: `${n}` } },
            );
          } catch (err) {
            if (!(again && err instanceof ApiError && err.kind === "AlreadyExists")) throw err;
          }
        });
        this.exists.add(name);
        break;
      case "update":
        await this.#retry(() => cms.patch(name, update?.(n) ?? { data: { n: `${n}` } }, "merge"));
        break;
      case "delete":
        await this.#retry(async (again) => {
          try {
            await cms.delete(name);
          } catch (err) {
            if (!(again && err instanceof ApiError && err.kind === "NotFound")) throw err;
          }
        });
        this.exists.delete(name);
        break;
    }
    this.counts[op]++;
  }

  /** Calls `fn` until it succeeds; `again` tells it that an earlier attempt may have landed. */
  async #retry(fn: (again: boolean) => Promise<unknown>): Promise<void> {
    const deadline = Date.now() + (this.#options.retryForMs ?? 60_000);
    for (let attempt = 0; ; attempt++) {
      try {
        await fn(attempt > 0);
        return;
      } catch (err) {
        if (!transient(err) || Date.now() > deadline) throw err;
        this.counts.retried++;
        await new Promise((r) => setTimeout(r, Math.min(50 * 2 ** attempt, 500)));
      }
    }
  }
}

/** The ConfigMap names `prefix-0` ... `prefix-(count-1)`. */
export function names(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${i}`);
}
