/**
 * The informer's local copy of a kind: objects by `namespace/name`, a namespace index, user-defined indexes, and
 * listers by namespace, index and label selector. Only the informer writes to it; everyone else reads.
 */
import { objectKey } from "../object/key.js";
import type { KubeObject } from "../object/types.js";
import { type LabelSelector, matchesLabels, parseLabelSelector } from "./selector.js";
import { jsonSize } from "./size.js";

/** Computes the index values of an object (e.g. its node name, its owner's uid); none: not indexed. */
export type IndexFunc<T> = (obj: T) => readonly string[];

/** The name of the built-in namespace index. */
export const namespaceIndex = "namespace";

/** client-go's MetaNamespaceKeyFunc: `namespace/name`, or `name` for cluster-scoped objects. */
export function keyOf(obj: KubeObject): string {
  return objectKey(obj);
}

/** The size of an object stored since the last `stats()`. */
const unmeasured = -1;

/** How much a store holds, for metrics. */
export interface StoreStats {
  readonly objects: number;
  /** The stored objects' size as compact JSON, estimated without serializing them. */
  readonly bytes: number;
}

/** What a key was filed under: one value (most index functions give one), or several. */
type Filed = string | readonly string[];

/** One index: its function, its keys by value, and what each key was filed under. */
interface Index<T> {
  readonly fn: IndexFunc<T>;
  readonly byValue: Map<string, Set<string>>;
  /**
   * Unfiling uses these rather than calling the index function on the old object again, which would give the new
   * values if a caller changed the stored object in place. A single value is kept as such: an array per object and
   * index would cost 28 bytes more.
   */
  readonly filed: Map<string, Filed>;
}

/** The values `fn` gave, as filed: a copy, so that a caller keeping the array it returned cannot change the index. */
function filedOf(values: readonly string[]): Filed {
  if (values.length === 1) return values[0] as string;
  return values.length === 0 ? none : [...values];
}

const none: readonly string[] = [];

function sameFiled(a: Filed, b: Filed): boolean {
  if (typeof a === "string" || typeof b === "string") return a === b;
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function each(filed: Filed, fn: (value: string) => void): void {
  if (typeof filed === "string") fn(filed);
  else for (const value of filed) fn(value);
}

/** Cluster-scoped objects are filed under "", as client-go's MetaNamespaceIndexFunc does. */
function namespaceOf(obj: KubeObject): readonly string[] {
  return [typeof obj.metadata?.namespace === "string" ? obj.metadata.namespace : ""];
}

/**
 * A keyed set of objects with indexes. Its maps are made with its first object, and the namespace index the first
 * time it is read: a watch-all engine holds an empty store per kind, and most stores are never read by namespace.
 */
export class Store<T extends KubeObject = KubeObject> {
  #items: Map<string, T> | undefined;
  /** The indexes kept up to date: every user-defined one, and the namespace index once it has been read. */
  #indexes: Map<string, Index<T>> | undefined;
  /**
   * Per key: its object's size, or {@link unmeasured} until `stats()` is next called. Measuring there rather than in
   * `set` costs nothing when no one asks, and once per version read rather than per change: the walk costs a fifth to
   * a quarter of what parsing the object did. A delete subtracts the size measured, even if the object was changed
   * in place since.
   */
  #sizes: Map<string, number> | undefined;
  /** The sum of the measured sizes. */
  #bytes = 0;
  #unmeasured = 0;

  constructor(indexers: Readonly<Record<string, IndexFunc<T>>> = {}) {
    for (const [name, fn] of Object.entries(indexers)) this.addIndexer(name, fn);
  }

  /** The function of index `name`, if there is one. */
  indexer(name: string): IndexFunc<T> | undefined {
    return name === namespaceIndex ? namespaceOf : this.#indexes?.get(name)?.fn;
  }

  /** Adds an index, computed at once for the objects already stored; a throwing `fn` leaves the store unchanged. */
  addIndexer(name: string, fn: IndexFunc<T>): void {
    if (this.indexer(name)) throw new Error(`index ${name} exists already`);
    this.#build(name, fn);
  }

  #build(name: string, fn: IndexFunc<T>): Index<T> {
    const computed = new Map<string, Filed>();
    for (const [key, obj] of this.#items ?? []) computed.set(key, filedOf(fn(obj)));
    const index: Index<T> = { fn, byValue: new Map(), filed: new Map() };
    this.#indexes ??= new Map();
    this.#indexes.set(name, index);
    for (const [key, values] of computed) this.#file(index, key, values);
    return index;
  }

  /** Index `name`; the namespace index is built on its first read, and kept up to date from then on. */
  #index(name: string): Index<T> | undefined {
    const index = this.#indexes?.get(name);
    if (index || name !== namespaceIndex) return index;
    return this.#build(name, namespaceOf);
  }

  #file(index: Index<T>, key: string, values: Filed): void {
    index.filed.set(key, values);
    each(values, (value) => {
      const keys = index.byValue.get(value);
      if (keys) keys.add(key);
      else index.byValue.set(value, new Set([key]));
    });
  }

  #unfile(index: Index<T>, key: string): void {
    const values = index.filed.get(key);
    if (values === undefined) return;
    each(values, (value) => {
      const keys = index.byValue.get(value);
      keys?.delete(key);
      if (keys?.size === 0) index.byValue.delete(value);
    });
    index.filed.delete(key);
  }

  #forget(key: string): void {
    const size = this.#sizes?.get(key);
    if (size === undefined) return;
    if (size === unmeasured) this.#unmeasured--;
    else this.#bytes -= size;
    this.#sizes?.delete(key);
  }

  /** How many objects are stored. */
  get size(): number {
    return this.#items?.size ?? 0;
  }

  /** How many objects are stored and their estimated JSON size; measures the objects stored since the last call. */
  stats(): StoreStats {
    if (this.#unmeasured > 0 && this.#sizes) {
      for (const [key, size] of this.#sizes) {
        if (size !== unmeasured) continue;
        const measured = jsonSize(this.#items?.get(key));
        this.#sizes.set(key, measured);
        this.#bytes += measured;
      }
      this.#unmeasured = 0;
    }
    return { objects: this.size, bytes: this.#bytes };
  }

  /** The object with this key (`namespace/name` or `name`). */
  get(key: string): T | undefined {
    return this.#items?.get(key);
  }

  /** The object with this namespace and name (namespace "" for cluster-scoped). */
  getByName(namespace: string, name: string): T | undefined {
    return this.get(namespace ? `${namespace}/${name}` : name);
  }

  /** Every key. */
  keys(): string[] {
    return this.#items ? [...this.#items.keys()] : [];
  }

  /** Every object. */
  list(): T[] {
    return this.#items ? [...this.#items.values()] : [];
  }

  /** The objects whose index `name` has `value`. */
  byIndex(name: string, value: string): T[] {
    const index = this.#index(name);
    if (!index) throw new Error(`no index named ${name}`);
    return [...(index.byValue.get(value) ?? [])].flatMap((key) => this.get(key) ?? []);
  }

  /** The index values in use of index `name`. */
  indexValues(name: string): string[] {
    return [...(this.#index(name)?.byValue.keys() ?? [])];
  }

  /** The objects of one namespace; "" gives the cluster-scoped ones. */
  listNamespace(namespace: string): T[] {
    return this.byIndex(namespaceIndex, namespace);
  }

  /** The objects matching a label selector (a string like `app=web,tier in (a,b)`), optionally in one namespace. */
  select(selector: string | LabelSelector, namespace?: string): T[] {
    const parsed = typeof selector === "string" ? parseLabelSelector(selector) : selector;
    const pool = namespace === undefined ? (this.#items?.values() ?? []) : this.listNamespace(namespace);
    const out: T[] = [];
    for (const obj of pool) if (matchesLabels(parsed, obj.metadata?.labels)) out.push(obj);
    return out;
  }

  /** Stores `obj` under `key`, returning what it replaced; a throwing index function leaves the store unchanged. */
  set(key: string, obj: T): T | undefined {
    const computed: Filed[] = [];
    for (const index of this.#indexes?.values() ?? []) computed.push(filedOf(index.fn(obj)));
    this.#items ??= new Map();
    const old = this.#items.get(key);
    this.#items.set(key, obj);
    let i = 0;
    for (const index of this.#indexes?.values() ?? []) {
      const values = computed[i++] as Filed;
      const before = index.filed.get(key);
      // An update rarely moves an object between index values (its namespace never): nothing to refile then.
      if (before !== undefined && sameFiled(before, values)) continue;
      this.#unfile(index, key);
      this.#file(index, key, values);
    }
    this.#sizes ??= new Map();
    const size = this.#sizes.get(key);
    if (size !== unmeasured) {
      if (size !== undefined) this.#bytes -= size;
      this.#sizes.set(key, unmeasured);
      this.#unmeasured++;
    }
    return old;
  }

  /** Removes the object under `key`, returning it. */
  delete(key: string): T | undefined {
    const old = this.#items?.get(key);
    for (const index of this.#indexes?.values() ?? []) this.#unfile(index, key);
    this.#items?.delete(key);
    this.#forget(key);
    return old;
  }
}
