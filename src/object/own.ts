/**
 * Own-property reads and writes. Everything in this layer goes through these so that keys like `__proto__`,
 * `constructor` and `prototype` are ordinary data keys: a read never reaches a prototype and a write never sets one.
 */

/** The value of `key` if `container` has it as an own data property; getters are never run, so none can throw. */
export function readOwn(container: object, key: string | number): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(container, key);
  return descriptor !== undefined && "value" in descriptor ? descriptor.value : undefined;
}

/** Whether `container` has `key` as an own data property. */
export function hasOwnData(container: object, key: string | number): boolean {
  const descriptor = Object.getOwnPropertyDescriptor(container, key);
  return descriptor !== undefined && "value" in descriptor;
}

/**
 * Defines `key` as an own, enumerable, writable data property. Assignment would call the inherited `__proto__` setter;
 * defining does not. Returns false instead of throwing when the container is frozen, sealed or not extensible.
 */
export function writeOwn(container: object, key: string | number, value: unknown): boolean {
  return Reflect.defineProperty(container, key, { value, writable: true, enumerable: true, configurable: true });
}

/** Copies the own enumerable data properties of `source` into a fresh object with the same kind of prototype. */
export function shallowCopyMap(source: object): Record<string, unknown> {
  const copy: Record<string, unknown> = Object.getPrototypeOf(source) === null ? Object.create(null) : {};
  for (const key of Object.keys(source)) {
    if (hasOwnData(source, key)) writeOwn(copy, key, readOwn(source, key));
  }
  return copy;
}

/** The elements of `array` read as own data; holes and accessor elements read as undefined. */
export function ownElements(array: readonly unknown[]): unknown[] {
  const out: unknown[] = [];
  for (let i = 0; i < array.length; i++) out.push(readOwn(array, i));
  return out;
}
