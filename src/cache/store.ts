/**
 * The informer's local copy of a kind: objects by `namespace/name`, a namespace index, user-defined indexes, and
 * listers by namespace, index and label selector. Only the informer writes to it; everyone else reads.
 */
import type { KubeObject } from "../object/types.js";
import { type LabelSelector, matchesLabels, parseLabelSelector } from "./selector.js";

/** Computes the index values of an object (e.g. its node name, its owner's uid); none: not indexed. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** The name of the built-in namespace index. */
export const namespaceIndex = "namespace";

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KubeObject): string {
  const meta = obj.metadata ?? {};
  const name = typeof meta.name === "string" ? meta.name : "";
  return typeof meta.namespace === "string" && meta.namespace ? `${meta.namespace}/${name}` : name;
}

/** A keyed set of objects with indexes. */
export class Store<T extends KubeObject = KubeObject> {
  readonly #items = new Map<string, T>();
  readonly #indexers = new Map<string, IndexFunc<T>>();
  readonly #indexes = new Map<string, Map<string, Set<string>>>();

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    this.addIndexer(namespaceIndex, (obj) =>
      typeof obj.metadata?.namespace === "string" ? [obj.metadata.namespace] : [],
    );
    for (const [name, fn] of Object.entries(indexers)) this.addIndexer(name, fn);
  }

  /** Adds an index, computed at once for the objects already stored. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.#indexers.has(name)) throw new Error(`index ${name} exists already`);
    this.#indexers.set(name, fn);
    this.#indexes.set(name, new Map());
    for (const [key, obj] of this.#items) this.#index(name, fn, key, obj);
  }

  #index(name: string, fn: IndexFunc<T>, key: string, obj: T): void {
    const index = this.#indexes.get(name);
    if (!index) return;
    for (const value of fn(obj)) {
      const keys = index.get(value);
      if (keys) keys.add(key);
      else index.set(value, new Set([key]));
    }
  }

  #unindex(key: string, obj: T): void {
    for (const [name, fn] of this.#indexers) {
      const index = this.#indexes.get(name);
      for (const value of fn(obj)) {
        const keys = index?.get(value);
        keys?.delete(key);
        if (keys?.size === 0) index?.delete(value);
      }
    }
  }

  /** How many objects are stored. */
  get size(): number {
    return this.#items.size;
  }

  /** The object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#items.get(key);
  }

  /** The object with this namespace and name (namespace "" for cluster-scoped). */
  getByName(namespace: string, name: string): T | undefined {
    return this.#items.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Every key. */
  keys(): string[] {
    return [...this.#items.keys()];
  }

  /** Every object. */
  list(): T[] {
    return [...this.#items.values()];
  }

  /** The objects whose index `name` has `value`. */
  byIndex(name: string, value: string): T[] {
    const index = this.#indexes.get(name);
    if (!index) throw new Error(`no index named ${name}`);
    return [...(index.get(value) ?? [])].flatMap((key) => this.#items.get(key) ?? []);
  }

  /** The index values in use of index `name`. */
  indexValues(name: string): string[] {
    return [...(this.#indexes.get(name)?.keys() ?? [])];
  }

  /** The objects of one namespace. */
  listNamespace(namespace: string): T[] {
    return this.byIndex(namespaceIndex, namespace);
  }

  /** The objects matching a label selector (a string like `app=web,tier in (a,b)`), optionally in one namespace. */
  select(selector: string | LabelSelector, namespace?: string): T[] {
    const parsed = typeof selector === "string" ? parseLabelSelector(selector) : selector;
    const pool = namespace === undefined ? this.#items.values() : this.listNamespace(namespace);
    const out: T[] = [];
    for (const obj of pool) if (matchesLabels(parsed, obj.metadata?.labels)) out.push(obj);
    return out;
  }

  /** Stores `obj` under `key`, returning what it replaced. */
  set(key: string, obj: T): T | undefined {
    const old = this.#items.get(key);
    if (old) this.#unindex(key, old);
    this.#items.set(key, obj);
    for (const [name, fn] of this.#indexers) this.#index(name, fn, key, obj);
    return old;
  }

  /** Removes the object under `key`, returning it. */
  delete(key: string): T | undefined {
    const old = this.#items.get(key);
    if (old) {
      this.#unindex(key, old);
      this.#items.delete(key);
    }
    return old;
  }
}
