/**
 * Waiting for one object, as `kubectl wait` does: for a condition, for its deletion, or for a JSONPath value (kubectl's
 * full dialect: filters, slices, wildcards). The state is read once, then followed on a watch from that
 * resourceVersion: no polling.
 */
import { ApiError } from "../http/errors.js";
import { goSprint } from "../object/gofmt.js";
import { findResults, type JsonPath, parseJsonPath, relaxedJsonPath } from "../object/jsonpath.js";
import { isMap } from "../object/narrow.js";
import { integer, slice } from "../object/nested-get.js";
import type { KubeObject } from "../object/types.js";
import { qualifiedName } from "./gvr.js";
import type { ResourceClient } from "./resource.js";

/**
 * What to wait for, as `kubectl wait --for` names it: a condition's status (default `True`, compared ignoring case),
 * the object's deletion (of the object with `uid`, when given: one of the same name made since counts as deleted), or
 * a JSONPath template's value (any value when `value` is absent).
 */
export type WaitCondition =
  | { readonly condition: string; readonly status?: string | undefined }
  | { readonly delete: true; readonly uid?: string | undefined }
  | { readonly jsonPath: string; readonly value?: string | undefined };

/** Options of {@link waitForObject}. */
export interface WaitOptions {
  readonly signal?: AbortSignal | undefined;
  /** How long to wait, in ms; default 30 s (kubectl's default). 0: check once, without waiting. */
  readonly timeoutMs?: number | undefined;
}

/** Splits on single `=` only, as kubectl does: `==` inside a filter stays in the expression. */
function splitOnSingleEquals(input: string): string[] {
  const parts: string[] = [];
  let current = "";
  for (let i = 0; i < input.length; i++) {
    if (input[i] !== "=") current += input[i];
    else if (input[i + 1] === "=") {
      current += "==";
      i++;
    } else {
      parts.push(current);
      current = "";
    }
  }
  parts.push(current);
  return parts;
}

/** Parses kubectl's `--for`: `delete`, `condition=Ready`, `condition=Ready=false`, `jsonpath={.status.phase}=Up`. */
export function parseWaitCondition(text: string): WaitCondition {
  if (text.toLowerCase() === "delete") return { delete: true };
  if (text.startsWith("condition=")) {
    const rest = text.slice("condition=".length);
    const eq = rest.indexOf("=");
    const condition = eq < 0 ? rest : rest.slice(0, eq);
    if (!condition) throw new TypeError(`no condition named in ${JSON.stringify(text)}: e.g. condition=Ready`);
    return eq < 0 ? { condition } : { condition, status: rest.slice(eq + 1) };
  }
  if (text.startsWith("jsonpath=")) {
    const parts = splitOnSingleEquals(text.slice("jsonpath=".length));
    const [expression, value] = parts;
    if (parts.length > 2 || !expression) {
      throw new TypeError(
        `jsonpath wait format must be jsonpath='{.status.readyReplicas}'=3 or jsonpath='{.status.readyReplicas}', not ${JSON.stringify(text)}`,
      );
    }
    const unquoted = expression.replace(/^'(.*)'$/, "$1");
    const jsonPath = relaxedJsonPath(unquoted);
    if (!jsonPath) {
      throw new TypeError(
        `unexpected JSONPath ${JSON.stringify(unquoted)}: expected 'name1.name2', '.name1.name2', '{name1.name2}' or '{.name1.name2}'`,
      );
    }
    if (value === undefined) return { jsonPath };
    const trimmed = value.replace(/^['"]+|['"]+$/g, "");
    if (!trimmed)
      throw new TypeError(`jsonpath wait needs a value after '=', e.g. jsonpath='{.status.readyReplicas}'=3`);
    return { jsonPath, value: trimmed };
  }
  throw new TypeError(
    `unrecognized condition ${JSON.stringify(text)}: use delete, condition=NAME[=STATUS] or jsonpath='{PATH}'[=VALUE]`,
  );
}

/** `condition=Ready=True`, `delete`, `jsonpath={.status.phase}=Running`: for messages. */
function describe(wanted: WaitCondition): string {
  if ("delete" in wanted) return "delete";
  if ("condition" in wanted) return `condition=${wanted.condition}=${wanted.status ?? "True"}`;
  return wanted.value === undefined ? `jsonpath=${wanted.jsonPath}` : `jsonpath=${wanted.jsonPath}=${wanted.value}`;
}

/**
 * Whether `obj` has the condition with the wanted status, as kubectl decides it: the first condition of the type
 * (ignoring case) decides, unless it was observed for an older generation than the object's.
 */
function conditionMet(obj: unknown, type: string, status: string): boolean {
  const conditions = slice(obj, "status", "conditions");
  if (!conditions.found) return false;
  const generation = integer(obj, "metadata", "generation");
  for (const entry of conditions.value) {
    if (!isMap(entry)) return false;
    if (typeof entry.type !== "string" || entry.type.toLowerCase() !== type.toLowerCase()) continue;
    if (typeof entry.status !== "string") continue;
    const own = integer(entry, "observedGeneration");
    const observed = own.found ? own : integer(obj, "status", "observedGeneration");
    if (generation.found && observed.found && observed.value < generation.value) return false;
    return entry.status.toLowerCase() === status.toLowerCase();
  }
  return false;
}

/**
 * Whether the JSONPath value is there (and equal to `value`, when given), as kubectl decides it: nothing selected is
 * not met yet; more than one value, or a map or list to compare, is an error; values compare as Go prints them, trimmed.
 * A template that fails on the data (an index out of range) throws its JsonPathError, as kubectl's wait fails then.
 */
function jsonPathMet(obj: unknown, path: JsonPath, value: string | undefined): boolean {
  const results = findResults(path, obj);
  const first = results[0];
  if (first === undefined || first.length === 0) return false;
  if (results.length > 1 || first.length > 1)
    throw new TypeError(`JSONPath ${path.source} selects more than one value`);
  if (value === undefined) return true;
  const result = first[0];
  if (result !== null && typeof result === "object") {
    throw new TypeError(`JSONPath ${path.source} selects an object or a list, which cannot be compared with a value`);
  }
  return goSprint(result).trim() === value.trim();
}

/** Whether a present `obj` meets the wanted state; a deletion is met only by the object's absence. */
function met(obj: KubeObject, wanted: WaitCondition, path: JsonPath | undefined): boolean {
  if ("delete" in wanted) return wanted.uid !== undefined && obj.metadata?.uid !== wanted.uid;
  if ("condition" in wanted) return conditionMet(obj, wanted.condition, wanted.status ?? "True");
  return path !== undefined && jsonPathMet(obj, path, wanted.value);
}

/** Resolves after `ms`, or as soon as `signal` fires (the caller looks at the signal next). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done, { once: true });
  });
}

/**
 * Waits until the object `name` meets `wanted` (an object or kubectl's `--for` text), and returns it; for a deletion,
 * its last state (undefined when it was gone at the start). Reads the object once with a list, then follows a watch
 * from that resourceVersion: re-watched when the server ends it or the connection breaks, read again after a
 * `410 Gone`. A condition or JSONPath wait on an object that does not exist, or is deleted meanwhile, fails as
 * NotFound; one that runs out of time fails as Timeout, and one whose signal fires as Aborted.
 */
export async function waitForObject<T extends KubeObject>(
  client: ResourceClient<T>,
  name: string,
  wanted: WaitCondition | string,
  options: WaitOptions = {},
): Promise<T | undefined> {
  const condition = typeof wanted === "string" ? parseWaitCondition(wanted) : wanted;
  // An expression that cannot be compiled fails now, before any request, rather than on the first object.
  const path =
    "jsonPath" in condition ? parseJsonPath(relaxedJsonPath(condition.jsonPath) ?? condition.jsonPath) : undefined;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const what = `${qualifiedName(client.gvr)}/${name}`;
  // A check without waiting (0) has no deadline of its own: its one read is bounded by the transport's.
  const deadline = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined;
  const signals = [options.signal, deadline].filter((s) => s !== undefined);
  const signal = signals.length > 1 ? AbortSignal.any(signals) : (signals[0] ?? new AbortController().signal);
  const fieldSelector = `metadata.name=${name}`;
  const notFound = (why: string) =>
    new ApiError({ kind: "NotFound", status: 0, message: `${what} ${why} while waiting for ${describe(condition)}` });
  const timedOut = (cause?: unknown) => {
    const message =
      timeoutMs === 0
        ? `${describe(condition)} not met for ${what}`
        : `timed out after ${timeoutMs} ms waiting for ${describe(condition)} on ${what}`;
    return new ApiError({ kind: "Timeout", status: 0, message, cause });
  };
  const failure = (err: unknown): unknown => {
    if (options.signal?.aborted) {
      if (err instanceof ApiError && err.kind === "Aborted") return err;
      return new ApiError({ kind: "Aborted", status: 0, message: `waiting for ${what} was aborted`, cause: err });
    }
    return deadline?.aborted ? timedOut(err) : err;
  };

  let last: T | undefined;
  let version: string | undefined;
  let failures = 0;
  try {
    for (;;) {
      if (version === undefined) {
        const list = await client.list({ fieldSelector, signal });
        const found = list.items[0];
        version = list.metadata?.resourceVersion ?? "";
        if (found === undefined) {
          if ("delete" in condition) return last;
          throw notFound(last === undefined ? "does not exist" : "was deleted");
        }
        // A deletion met by another uid: the object waited for is gone, and this one is not its last state.
        if (met(found, condition, path)) return "delete" in condition ? undefined : found;
        last = found;
        if (timeoutMs === 0) throw timedOut();
      }
      let events = 0;
      try {
        const watchOptions = { fieldSelector, allowWatchBookmarks: true, signal };
        for await (const event of client.watch(
          version ? { ...watchOptions, resourceVersion: version } : watchOptions,
        )) {
          events++;
          failures = 0;
          if (event.type === "ERROR") throw event.error;
          version = event.object.metadata?.resourceVersion ?? version;
          if (event.type === "BOOKMARK") continue;
          if (event.type === "DELETED") {
            if ("delete" in condition) return event.object;
            throw notFound("was deleted");
          }
          if (met(event.object, condition, path)) return "delete" in condition ? undefined : event.object;
          last = event.object;
        }
        // A watch the server ends at once, again and again, must not become a busy loop.
        if (events === 0) await sleep(Math.min(100 * 2 ** failures++, 5000), signal);
      } catch (err) {
        if (!(err instanceof ApiError) || signal.aborted) throw err;
        if (err.kind === "Gone") version = undefined;
        else if (err.transient) await sleep(Math.min(100 * 2 ** failures++, 5000), signal);
        else throw err;
      }
    }
  } catch (err) {
    throw failure(err);
  }
}
