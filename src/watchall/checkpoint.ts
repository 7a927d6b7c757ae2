/**
 * Checkpoints: what a consumer of the merged stream has handled, per kind (each object's uid and resourceVersion),
 * saved to a file so that a restarted consumer is told only what changed since, instead of every object again.
 */
import { readFile, rename, writeFile } from "node:fs/promises";
import { ConfigError } from "../config/errors.js";
import { objectKey, splitKey } from "../object/key.js";
import { isMap } from "../object/narrow.js";
import type { KubeObject } from "../object/types.js";
import { definedProps } from "../util/defined.js";
import { groupResource, type KindInfo, kindInfo, type WatchAllEvent } from "./types.js";

/** One kind's part of a checkpoint: what it is, and its objects, key (`namespace/name`) to its stamp (`uid resourceVersion`). */
export interface CheckpointKind extends KindInfo {
  /** The resourceVersion of the last event handled. */
  readonly resourceVersion?: string;
  readonly objects: Readonly<Record<string, string>>;
  /**
   * Objects that may have been delivered without being handled, and that `objects` cannot hold because another
   * object of theirs has their key (a name deleted and reused): their uids by key. After a restart each is delivered
   * as deleted unless it is still there.
   */
  readonly doubts?: Readonly<Record<string, readonly string[]>>;
}

/** A checkpoint file's content. */
export interface Checkpoint {
  readonly format: 1;
  /** By `resource.group`. */
  readonly kinds: Readonly<Record<string, CheckpointKind>>;
}

/** The value stored for an object: `uid resourceVersion`. */
export function stamp(uid: string | undefined, resourceVersion: string | undefined): string {
  return `${uid ?? ""} ${resourceVersion ?? ""}`;
}

/** Splits a {@link stamp}. */
export function unstamp(value: string): { uid: string; resourceVersion: string } {
  const space = value.indexOf(" ");
  if (space < 0) return { uid: "", resourceVersion: value };
  return { uid: value.slice(0, space), resourceVersion: value.slice(space + 1) };
}

/** A stand-in for an object known only by its checkpoint entry: name, namespace, uid and resourceVersion. */
export function ghost(info: KindInfo, key: string, value: string): KubeObject {
  const { namespace = "", name = key } = splitKey(key) ?? {};
  const { uid, resourceVersion } = unstamp(value);
  return {
    apiVersion: info.group ? `${info.group}/${info.version}` : info.version,
    kind: info.kind,
    metadata: { name, ...definedProps({ namespace: namespace || undefined }), uid, resourceVersion },
  };
}

function isCheckpointKind(value: unknown): value is CheckpointKind {
  return (
    isMap(value) &&
    typeof value.group === "string" &&
    typeof value.version === "string" &&
    typeof value.kind === "string" &&
    typeof value.resource === "string" &&
    typeof value.namespaced === "boolean" &&
    isMap(value.objects) &&
    Object.values(value.objects).every((v) => typeof v === "string") &&
    (value.doubts === undefined ||
      (isMap(value.doubts) &&
        Object.values(value.doubts).every((v) => Array.isArray(v) && v.every((u) => typeof u === "string"))))
  );
}

/** Reads a checkpoint; undefined when the file does not exist; a {@link ConfigError} when it is not one. */
export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ConfigError(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ConfigError(`checkpoint ${path} is not JSON: delete it to start over`);
  }
  if (!isMap(doc) || doc.format !== 1 || !isMap(doc.kinds) || !Object.values(doc.kinds).every(isCheckpointKind)) {
    throw new ConfigError(`checkpoint ${path} is not a kindwatch checkpoint (format 1): delete it to start over`);
  }
  return doc as unknown as Checkpoint;
}

/** Writes a checkpoint atomically: a crash mid-write leaves the previous one whole. */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(checkpoint));
  await rename(tmp, path);
}

interface LedgerKind {
  info: KindInfo;
  resourceVersion?: string;
  readonly objects: Map<string, string>;
}

/** Objects the consumer may have been told of without having handled them yet, of one kind: by key, by uid, a count. */
interface Doubts {
  info: KindInfo;
  readonly keys: Map<string, Map<string, number>>;
}

/**
 * What the consumer has handled, kept up to date event by event; {@link snapshot} makes the checkpoint of it. Objects
 * in doubt ({@link doubt}: handed to the consumer, not handled yet) that the handled state does not know are in the
 * snapshot too, with an empty resourceVersion: after a restart they are told again if they still exist (their
 * resourceVersion differs) and deleted if they are gone, so that a receiver that got them is never left holding an
 * object the checkpoint forgot.
 */
export class Ledger {
  readonly #kinds = new Map<string, LedgerKind>();
  readonly #doubts = new Map<string, Doubts>();
  /** The checkpoint's doubts, until an event of their object is handled. */
  readonly #inherited = new Map<string, Doubts>();
  #dirty = false;
  #ahead = false;

  constructor(checkpoint?: Checkpoint) {
    for (const [gr, k] of Object.entries(checkpoint?.kinds ?? {})) {
      this.#kinds.set(gr, {
        info: kindInfo(k),
        ...definedProps({ resourceVersion: k.resourceVersion || undefined }),
        objects: new Map(Object.entries(k.objects)),
      });
      const keys = new Map(
        Object.entries(k.doubts ?? {}).map(([key, uids]) => [key, new Map(uids.map((u) => [u, 1]))]),
      );
      if (keys.size > 0) this.#inherited.set(gr, { info: kindInfo(k), keys });
    }
  }

  /** Whether it changed since the last {@link snapshot}. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Whether an object in doubt that the last {@link snapshot} did not hold has come since. */
  get ahead(): boolean {
    return this.#ahead;
  }

  /** Notes that the last {@link snapshot} was not saved: it is still {@link dirty} and, with doubts, {@link ahead}. */
  unsaved(): void {
    this.#dirty = true;
    if (this.#doubts.size > 0 || this.#inherited.size > 0) this.#ahead = true;
  }

  /** Records that `event` is handed to the consumer, not handled yet; {@link settle} it once it is applied. */
  doubt(event: WatchAllEvent): void {
    if (event.type !== "ADDED" && event.type !== "MODIFIED") return;
    const gr = groupResource(event);
    let d = this.#doubts.get(gr);
    if (!d) {
      d = { info: kindInfo(event), keys: new Map() };
      this.#doubts.set(gr, d);
    }
    const key = objectKey(event.object);
    const uid = event.object.metadata?.uid ?? "";
    let uids = d.keys.get(key);
    if (!uids) {
      uids = new Map();
      d.keys.set(key, uids);
    }
    const count = uids.get(uid) ?? 0;
    uids.set(uid, count + 1);
    const known = this.#kinds.get(gr)?.objects.get(key);
    if (count === 0 && (known === undefined || unstamp(known).uid !== uid)) {
      this.#dirty = true;
      this.#ahead = true;
    }
  }

  /** Ends the doubt {@link doubt} recorded for `event` (call it before applying the event). */
  settle(event: WatchAllEvent): void {
    if (event.type !== "ADDED" && event.type !== "MODIFIED") return;
    const gr = groupResource(event);
    const d = this.#doubts.get(gr);
    const key = objectKey(event.object);
    const uid = event.object.metadata?.uid ?? "";
    const uids = d?.keys.get(key);
    const count = uids?.get(uid);
    if (!d || !uids || count === undefined) return;
    if (count > 1) {
      uids.set(uid, count - 1);
      return;
    }
    uids.delete(uid);
    if (uids.size === 0) d.keys.delete(key);
    if (d.keys.size === 0) this.#doubts.delete(gr);
  }

  /** Records that the consumer has handled `event`. */
  apply(event: WatchAllEvent): void {
    const gr = groupResource(event);
    if (event.type === "KIND_REMOVED") {
      this.#dirty = this.#kinds.delete(gr) || this.#inherited.delete(gr) || this.#dirty;
      return;
    }
    let k = this.#kinds.get(gr);
    if (!k) {
      k = { info: kindInfo(event), objects: new Map() };
      this.#kinds.set(gr, k);
    }
    k.info = kindInfo(event);
    this.#dirty = true;
    if (event.type === "ADDED" || event.type === "MODIFIED" || event.type === "DELETED") {
      const key = objectKey(event.object);
      const inherited = this.#inherited.get(gr);
      inherited?.keys.get(key)?.delete(event.object.metadata?.uid ?? "");
      if (inherited?.keys.get(key)?.size === 0) inherited.keys.delete(key);
      const uid = event.object.metadata?.uid;
      const heldUid = unstamp(k.objects.get(key) ?? "").uid;
      if (event.type !== "DELETED") k.objects.set(key, stamp(uid, event.resourceVersion));
      // The delete of an object whose name another one has taken since (a doubt told after a restart) keeps the other.
      else if (!uid || !heldUid || heldUid === uid) k.objects.delete(key);
      if (event.resourceVersion) k.resourceVersion = event.resourceVersion;
    }
  }

  /** The checkpoint of what has been handled. */
  snapshot(): Checkpoint {
    this.#dirty = false;
    this.#ahead = false;
    const kinds: Record<string, CheckpointKind> = {};
    for (const [gr, k] of this.#kinds) {
      kinds[gr] = {
        ...k.info,
        ...definedProps({ resourceVersion: k.resourceVersion || undefined }),
        objects: Object.fromEntries(k.objects),
      };
    }
    for (const gr of new Set([...this.#doubts.keys(), ...this.#inherited.keys()])) {
      const d = this.#doubts.get(gr) ?? this.#inherited.get(gr);
      if (!d) continue;
      const objects: Record<string, string> = { ...kinds[gr]?.objects };
      const doubts: Record<string, string[]> = {};
      for (const source of [this.#doubts.get(gr), this.#inherited.get(gr)]) {
        for (const [key, uids] of source?.keys ?? []) {
          for (const uid of uids.keys()) {
            const held = objects[key];
            // An object the checkpoint does not know yet is told again (an empty resourceVersion differs from any).
            if (held === undefined) objects[key] = stamp(uid, "");
            else if (unstamp(held).uid !== uid && !doubts[key]?.includes(uid))
              doubts[key] = [...(doubts[key] ?? []), uid];
          }
        }
      }
      const info = kinds[gr] ?? d.info;
      kinds[gr] = { ...info, objects, ...(Object.keys(doubts).length > 0 ? { doubts } : {}) };
    }
    return { format: 1, kinds };
  }
}
