/**
 * Interning: one copy of each repeated string value in a cache. V8's JSON.parse shares property names and string
 * values of up to 10 characters, but copies every longer value into each object that holds it: a namespace, an
 * apiVersion, an image, a label value, repeated in every object.
 */
import type { KubeObject } from "../object/types.js";

/** Options of {@link internStrings}. */
export interface InternOptions {
  /** Longer strings are left alone: they are rarely repeated (default 64). */
  readonly maxLength?: number | undefined;
  /** The table is emptied when it holds this many strings, so that unique values cannot grow it forever (50,000). */
  readonly maxStrings?: number | undefined;
  /**
   * Whether to walk the whole object (default) or only its type and metadata (`false`), whose values repeat in any
   * kind (apiVersion, namespace, labels, owners, timestamps of objects made together) and cost a few lookups.
   */
  readonly bodies?: boolean | undefined;
}

/** An object's own name, uid and resourceVersion are its alone: interning them would only fill the table. */
const unique: ReadonlySet<string> = new Set(["name", "uid", "resourceVersion"]);

const metadataOnly: ReadonlySet<string> = new Set(["metadata"]);

/** Shorter strings are shared by JSON.parse already. */
const sharedByParse = 10;

/**
 * A transform that replaces every string value of 11 to `maxLength` characters with the first equal string it saw, so
 * that equal values in different objects share one copy; it changes the object in place. Give each informer its own,
 * after the default: `const intern = internStrings();` then `{ transform: (o) => intern(dropManagedFields(o)) }`.
 * Measured with `npm run bench -- store`: 13% less memory per widget, 20% per Pod, for a few µs of CPU per object.
 */
export function internStrings<T extends KubeObject>(options: InternOptions = {}): (object: T) => T {
  const maxLength = options.maxLength ?? 64;
  const maxStrings = options.maxStrings ?? 50_000;
  const table = new Map<string, string>();
  /** The first copy seen of `s`, or undefined when `s` is that copy (or is not interned): nothing to replace. */
  const earlier = (s: string): string | undefined => {
    if (s.length <= sharedByParse || s.length > maxLength) return undefined;
    const known = table.get(s);
    if (known !== undefined) return known;
    if (table.size >= maxStrings) table.clear();
    table.set(s, s);
    return undefined;
  };
  const walk = (value: unknown, skip?: ReadonlySet<string>): void => {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i];
        if (typeof item === "string") {
          const known = earlier(item);
          if (known !== undefined) value[i] = known;
        } else if (typeof item === "object" && item !== null) walk(item);
      }
    } else if (typeof value === "object" && value !== null) {
      const record = value as Record<string, unknown>;
      for (const key in record) {
        if (skip?.has(key)) continue;
        const field = record[key];
        if (typeof field === "string") {
          const known = earlier(field);
          if (known !== undefined) record[key] = known;
        } else if (typeof field === "object" && field !== null) walk(field);
      }
    }
  };
  return (object) => {
    if (options.bodies !== false) walk(object, metadataOnly);
    else {
      const { apiVersion, kind } = object;
      if (typeof apiVersion === "string") object.apiVersion = earlier(apiVersion) ?? apiVersion;
      if (typeof kind === "string") object.kind = earlier(kind) ?? kind;
    }
    walk(object.metadata, unique);
    return object;
  };
}
