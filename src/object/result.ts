import type { ValueType } from "./narrow.js";

/** One step of a path: a string names a map key, a number indexes an array. */
export type PathSegment = string | number;

/** A value that was there and had the requested type. */
export interface Found<T> {
  readonly found: true;
  readonly value: T;
}

/**
 * Why a value could not be read. `at` is the path of the value that is missing or has the wrong type: for
 * `spec.replicas` on an object whose `spec` is a string, `at` is `["spec"]`, `expected` is `map`, `actual` is `string`.
 */
export interface Miss {
  readonly found: false;
  readonly reason: "missing" | "wrong-type";
  readonly at: readonly PathSegment[];
  /** Set when `reason` is `wrong-type`. */
  readonly expected?: ValueType;
  /** Set when `reason` is `wrong-type`. */
  readonly actual?: ValueType;
}

/** The result of a nested read: the value, or why there is none. */
export type Lookup<T> = Found<T> | Miss;

/** The result of an edit: whether the object now differs, or why it could not be edited (the object is unchanged). */
export type EditResult = { readonly ok: true; readonly changed: boolean } | EditFailure;

/**
 * Why an edit was refused. `wrong-type`: a value on the path is not the container the next segment needs.
 * `missing`: an array on the path is absent (only maps are created). `out-of-range`: an index is not an element.
 * `read-only`: the container at `at` is frozen, sealed or not extensible. `empty-path`: there was nothing to edit.
 */
export interface EditFailure {
  readonly ok: false;
  readonly changed: false;
  readonly reason: "wrong-type" | "missing" | "out-of-range" | "read-only" | "empty-path";
  readonly at: readonly PathSegment[];
  readonly expected?: ValueType | undefined;
  readonly actual?: ValueType | undefined;
}

const identifier = /^[A-Za-z_$][A-Za-z0-9_$]*$/;

/** Renders a path for messages: `spec.containers[0]["app.kubernetes.io/name"]`; the empty path is `(root)`. */
export function formatPath(path: readonly PathSegment[]): string {
  if (path.length === 0) return "(root)";
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (identifier.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(segment)}]`;
  }
  return out;
}

/** A one-line explanation of a miss or refused edit, for logs and status conditions. */
export function describeMiss(miss: Miss | EditFailure): string {
  const where = formatPath(miss.at);
  if (miss.reason === "wrong-type") return `${where}: expected ${miss.expected}, found ${miss.actual}`;
  return `${where}: ${miss.reason}`;
}
