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
    Object.values(value.objects).every((v) => typeof v === "string")
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

/** What the consumer has handled, kept up to date event by event; {@link snapshot} makes the checkpoint of it. */
export class Ledger {
  readonly #kinds = new Map<string, LedgerKind>();
  #dirty = false;

  constructor(checkpoint?: Checkpoint) {
    for (const [gr, k] of Object.entries(checkpoint?.kinds ?? {})) {
      this.#kinds.set(gr, {
        info: kindInfo(k),
        ...definedProps({ resourceVersion: k.resourceVersion || undefined }),
        objects: new Map(Object.entries(k.objects)),
      });
    }
  }

  /** Whether it changed since the last {@link snapshot}. */
  get dirty(): boolean {
    return this.#dirty;
  }

  /** Records that the consumer has handled `event`. */
  apply(event: WatchAllEvent): void {
    const gr = groupResource(event);
    if (event.type === "KIND_REMOVED") {
      this.#dirty = this.#kinds.delete(gr) || this.#dirty;
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
      if (event.type === "DELETED") k.objects.delete(key);
      else k.objects.set(key, stamp(event.object.metadata?.uid, event.resourceVersion));
      if (event.resourceVersion) k.resourceVersion = event.resourceVersion;
    }
  }

  /** The checkpoint of what has been handled. */
  snapshot(): Checkpoint {
    this.#dirty = false;
    const kinds: Record<string, CheckpointKind> = {};
    for (const [gr, k] of this.#kinds) {
      kinds[gr] = {
        ...k.info,
        ...definedProps({ resourceVersion: k.resourceVersion || undefined }),
        objects: Object.fromEntries(k.objects),
      };
    }
    return { format: 1, kinds };
  }
}
