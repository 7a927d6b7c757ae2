/**
 * What a cached object weighs, for metrics: the length of its compact JSON, computed by a walk that allocates nothing
 * (serialising every stored object would cost as much as parsing it did).
 */

/**
 * The length of `JSON.stringify(value)` (compact), except that each string counts as its characters plus two quotes:
 * exact for text without characters JSON escapes (quotes, backslashes, control characters), a little under otherwise.
 * Characters are UTF-16 code units, as `string.length` counts them.
 */
export function jsonSize(value: unknown): number {
  switch (typeof value) {
    case "string":
      return value.length + 2;
    case "number":
      return Number.isFinite(value) ? String(value).length : 4;
    case "boolean":
      return value ? 4 : 5;
    case "object": {
      if (value === null) return 4;
      if (Array.isArray(value)) {
        let n = 1 + value.length;
        for (const item of value) n += item === undefined || typeof item === "function" ? 4 : jsonSize(item);
        return value.length === 0 ? 2 : n;
      }
      const record = value as Record<string, unknown>;
      let n = 1;
      let fields = 0;
      for (const key in record) {
        const field = record[key];
        if (field === undefined || typeof field === "function" || typeof field === "symbol") continue;
        n += key.length + 3 + jsonSize(field);
        fields++;
      }
      return fields === 0 ? 2 : n + fields;
    }
    default:
      return 0;
  }
}
