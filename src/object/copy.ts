import { isMap } from "./narrow.js";
import { hasOwnData, readOwn, writeOwn } from "./own.js";

/**
 * A deep copy of JSON-shaped data: maps and arrays are copied, primitives and anything else (class instances,
 * functions) are shared. Own enumerable data keys are copied as own properties, so a `__proto__` key stays data; a map
 * with a null prototype stays one. It works with an explicit stack instead of recursion, so nesting depth is bounded by
 * memory, not by the call stack, and it copies cycles and shared subtrees faithfully instead of looping. The copy is
 * never frozen, even when the source was.
 */
export function deepCopy<T>(value: T): T {
  const copies = new Map<object, object>();
  const pending: Array<[source: object, target: object]> = [];
  const copyOf = (source: unknown): unknown => {
    if (typeof source !== "object" || source === null) return source;
    const known = copies.get(source);
    if (known !== undefined) return known;
    let target: object;
    if (Array.isArray(source)) target = new Array(source.length);
    else if (isMap(source)) target = Object.getPrototypeOf(source) === null ? Object.create(null) : {};
    else return source;
    copies.set(source, target);
    pending.push([source, target]);
    return target;
  };
  const root = copyOf(value);
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    const [source, target] = item;
    for (const key of Object.keys(source)) {
      if (hasOwnData(source, key)) writeOwn(target, key, copyOf(readOwn(source, key)));
    }
  }
  return root as T;
}
