/**
 * Building objects whose optional keys must be absent rather than `undefined` (`exactOptionalPropertyTypes`), without
 * the `...(x ? { k: x } : {})` spread, which hides a misspelt or foreign key from the compiler.
 */

/** Every key of `T`, each optional and allowed `undefined`. */
export type Loose<T> = { readonly [K in keyof T]?: T[K] | undefined };

/**
 * `props` without its `undefined` values. Its type comes from where the result goes (`const o: Options =
 * definedProps({...})`, or a spread inside such a literal) and never from `props`, so a key `T` lacks is a compile
 * error; with no target type at all, every call is one.
 */
export function definedProps<T extends object = never>(props: NoInfer<Loose<T>>): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(props)) if (value !== undefined) out[key] = value;
  return out as Partial<T>;
}
