/**
 * JSONPath as `kubectl wait --for=jsonpath=...` takes it: the expression relaxed into kubectl's template form, and a
 * small compiler of plain field paths. A full JSONPath of kubectl's dialect can take its place through
 * {@link CompileJsonPath}.
 */
import { get } from "../object/nested-get.js";
import type { PathSegment } from "../object/result.js";

/**
 * Compiles a JSONPath template (`{.status.phase}`), throwing on one it cannot take, into a function that returns every
 * value the template selects in an object, in order.
 */
export type CompileJsonPath = (template: string) => (obj: unknown) => readonly unknown[];

/**
 * kubectl's relaxed form: `status.phase`, `.status.phase`, `{status.phase}` and `{.status.phase}` all become
 * `{.status.phase}` (as kubectl's RelaxedJSONPathExpression makes them).
 */
export function relaxedJsonPath(expression: string): string {
  const match = /^\{\.?([^{}]+)\}$|^\.?([^{}]+)$/.exec(expression);
  const field = match?.[1] ?? match?.[2];
  if (field === undefined) {
    throw new TypeError(
      `unexpected JSONPath ${JSON.stringify(expression)}: expected 'name1.name2', '.name1.name2', '{name1.name2}' or '{.name1.name2}'`,
    );
  }
  return `{.${field}}`;
}

const fieldName = /^[^.[\]{}()@?*$'"=!<>&|,\s]+$/;

/** The segments of a plain path (`.status.conditions[0].type`), or a TypeError naming what is not plain. */
export function parseFieldPath(template: string): PathSegment[] {
  const body = relaxedJsonPath(template).slice(2, -1);
  const segments: PathSegment[] = [];
  for (const part of body.split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    const name = match?.[1];
    if (match === null || name === undefined || (name !== "" && !fieldName.test(name)) || (name === "" && !match[2])) {
      throw new TypeError(
        `JSONPath ${JSON.stringify(template)} is not a plain field path: only '.name' and '[N]' steps are supported here (pass a full JSONPath evaluator for more)`,
      );
    }
    if (name) segments.push(name);
    for (const index of match[2]?.matchAll(/\[(\d+)\]/g) ?? []) segments.push(Number(index[1]));
  }
  return segments;
}

/**
 * Compiles a plain field path (`{.status.phase}`, `.status.conditions[0].type`) to a read through the object layer's
 * nested getters: one value, or none when a step is missing or of the wrong type (kubectl's wait allows missing keys).
 */
export const compileFieldPath: CompileJsonPath = (template) => {
  const path = parseFieldPath(template);
  return (obj) => {
    const found = get(obj, ...path);
    return found.found ? [found.value] : [];
  };
};
