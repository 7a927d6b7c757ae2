/**
 * One line saying what an event changed, for people: the changed field paths without the `metadata.` prefix and
 * without bookkeeping, a scalar's old and new value where they are short, and "+N more" when the line would be long.
 */
import type { ObjectEvent } from "../watchall/types.js";

/** Paths that change along with real changes and say nothing a reader needs. */
const bookkeeping = ["metadata.resourceVersion", "metadata.managedFields", "metadata.generation"];

const maxValue = 24;

function isBookkeeping(path: string): boolean {
  return bookkeeping.some((b) => path === b || path.startsWith(`${b}.`) || path.startsWith(`${b}[`));
}

/** Reads a dotted path as `changedPaths` writes it (`a.b`, `a[0]`, `a["x.y"]`); `found` false when absent. */
export function valueAt(root: unknown, path: string): { found: boolean; value?: unknown } {
  let current: unknown = root;
  const steps = /([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/g;
  for (const m of path.matchAll(steps)) {
    const key = m[1] ?? (m[2] !== undefined ? Number(m[2]) : JSON.parse(m[3] ?? '""'));
    if (current === null || typeof current !== "object" || !Object.hasOwn(current, key)) return { found: false };
    current = (current as Record<string | number, unknown>)[key];
  }
  return { found: true, value: current };
}

function scalar(value: unknown): string | undefined {
  if (value === null || typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "string") return JSON.stringify(value);
  return undefined;
}

function short(text: string): string {
  return text.length > maxValue ? `${text.slice(0, maxValue - 1)}…` : text;
}

/** `spec.size: 3→5` for a changed scalar, `+labels.app` for an added field, `-spec.x` for a removed one. */
export function describePath(path: string, before: unknown, after: unknown): string {
  const name = path.startsWith("metadata.") ? path.slice("metadata.".length) : path;
  const was = valueAt(before, path);
  const now = valueAt(after, path);
  if (!was.found && now.found) return `+${name}`;
  if (was.found && !now.found) return `-${name}`;
  const from = scalar(was.value);
  const to = scalar(now.value);
  return from !== undefined && to !== undefined ? `${name}: ${short(from)}→${short(to)}` : name;
}

/** The parts of a MODIFIED event's summary, in path order, bookkeeping left out unless nothing else changed. */
export function changeParts(event: Pick<ObjectEvent, "changedPaths" | "old" | "object">): string[] {
  const paths = event.changedPaths ?? [];
  const shown = paths.filter((p) => !isBookkeeping(p));
  return (shown.length > 0 ? shown : paths).map((p) => describePath(p, event.old, event.object));
}

/** Joins `parts` with ", " into at most `width` characters, ending with "+N more" when some did not fit. */
export function fitParts(parts: readonly string[], width: number): string {
  const all = parts.join(", ");
  if (all.length <= width) return all;
  // The first part shows however long it is: a line that says only "+N more" says nothing.
  let line = parts[0] ?? "";
  for (let i = 1; i < parts.length; i++) {
    const next = `${line}, ${parts[i]}`;
    const rest = parts.length - i - 1;
    if (next.length + (rest > 0 ? ` +${rest} more`.length : 0) > width) return `${line} +${parts.length - i} more`;
    line = next;
  }
  return line;
}

/** The summary column of a human-readable event line. */
export function summarize(event: ObjectEvent, width: number): string {
  if (event.type === "MODIFIED") return fitParts(changeParts(event), width);
  if (event.type === "DELETED" && event.finalStateUnknown) return "(final state unknown)";
  return "";
}
