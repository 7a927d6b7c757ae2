/**
 * How `kindwatch watch` shows events: one aligned line per change for people, a JSON object per event for programs,
 * and notices about kinds.
 */
import { isBuiltinGroup } from "../discovery/snapshot-mapper.js";
import { definedProps } from "../util/defined.js";
import type { KindEvent, KindInfo, ObjectEvent, WatchAllEvent } from "../watchall/types.js";
import type { Paint, Style } from "./style.js";
import { summarize } from "./summary.js";

/** `Widget.example.com` for custom kinds, `Deployment` for Kubernetes' own. */
export function kindLabel(k: Pick<KindInfo, "group" | "kind">): string {
  return isBuiltinGroup(k.group) ? k.kind : `${k.kind}.${k.group}`;
}

/** The JSON form of an event: object events as documented in `kindwatch watch --help`, kind events with their type. */
export function eventJson(e: WatchAllEvent): Record<string, unknown> {
  if (e.type.startsWith("KIND_")) {
    const k = e as KindEvent;
    return {
      type: k.type,
      group: k.group,
      version: k.version,
      kind: k.kind,
      resource: k.resource,
      namespaced: k.namespaced,
      ...definedProps({ reason: k.reason, previousVersion: k.previousVersion }),
    };
  }
  const o = e as ObjectEvent;
  return {
    type: o.type,
    origin: o.origin,
    group: o.group,
    version: o.version,
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    resourceVersion: o.resourceVersion,
    ...definedProps({
      changedPaths: o.type === "MODIFIED" ? (o.changedPaths ?? []) : undefined,
      finalStateUnknown: o.finalStateUnknown || undefined,
    }),
    object: o.object,
  };
}

function clock(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

const eventColours: Readonly<Record<ObjectEvent["type"], (s: Style) => Paint>> = {
  ADDED: (s) => s.green,
  MODIFIED: (s) => s.yellow,
  DELETED: (s) => s.red,
};

/** Prints object events as aligned lines; the kind column widens as longer kinds come. */
export class HumanLines {
  readonly #style: Style;
  #kindWidth = 8;

  constructor(style: Style) {
    this.#style = style;
  }

  /** The line for `e`, its summary fitted to a `width`-wide terminal. */
  line(e: ObjectEvent, width: number, now = new Date()): string {
    const s = this.#style;
    const label = kindLabel(e);
    this.#kindWidth = Math.min(40, Math.max(this.#kindWidth, label.length));
    const time = clock(now);
    const ref = e.namespace ? `${e.namespace}/${e.name}` : e.name;
    const origin = e.origin === "live" ? "" : `(${e.origin})`;
    const used = `${time}  ${e.type.padEnd(8)}  ${label.padEnd(this.#kindWidth)}  ${ref}  ${origin} `.length;
    const summary = summarize(e, Math.max(40, width - used));
    const tail = [summary, origin && s.dim(origin)].filter((t) => t).join(" ");
    const head = `${s.dim(time)}  ${eventColours[e.type](s)(e.type.padEnd(8))}  ${label.padEnd(this.#kindWidth)}  ${ref}`;
    return tail ? `${head}  ${tail}` : head;
  }
}

/** A notice about a kind for people, or undefined when it is not worth one. */
export function kindNotice(e: KindEvent, style: Style, settled: boolean): string | undefined {
  const label = kindLabel(e);
  switch (e.type) {
    case "KIND_QUARANTINED":
      return `${style.yellow("quarantined")} ${label}: ${e.reason ?? "unknown reason"} (retrying)`;
    case "KIND_REMOVED":
      return `${style.yellow("removed")} ${label}${e.reason ? `: ${e.reason}` : ""}`;
    case "KIND_VERSION_CHANGED":
      return `${style.cyan("version changed")} ${label}: now ${e.version}${e.previousVersion ? ` (was ${e.previousVersion})` : ""}`;
    case "KIND_ADDED":
      return settled ? `${style.cyan("watching")} ${label} (new kind)` : undefined;
    default:
      return undefined;
  }
}
