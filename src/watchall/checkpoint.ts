/**
 * Checkpoints: what a consumer of the merged stream has seen, per kind (each object's uid and resourceVersion), saved
 * to a file so that a restarted consumer is told only what changed since, instead of every object again.
 */
import { readFile, rename, writeFile } from "node:fs/promises";

/** One kind's part of a checkpoint: key (`namespace/name`) -> `uid resourceVersion`. */
export interface CheckpointKind {
  readonly version: string;
  readonly resourceVersion?: string;
  readonly objects: Record<string, string>;
}

/** A checkpoint file's content. */
export interface Checkpoint {
  readonly format: 1;
  /** By `resource.group`. */
  readonly kinds: Record<string, CheckpointKind>;
}

/** The value stored for an object. */
export function stamp(uid: string | undefined, resourceVersion: string | undefined): string {
  return `${uid ?? ""} ${resourceVersion ?? ""}`;
}

/** Splits a {@link stamp}. */
export function unstamp(value: string): { uid: string; resourceVersion: string } {
  const space = value.indexOf(" ");
  return { uid: value.slice(0, space), resourceVersion: value.slice(space + 1) };
}

/** Reads a checkpoint; undefined when the file does not exist; a clear error when it is not one. */
export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new Error(`cannot read checkpoint ${path}: ${(err as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new Error(`checkpoint ${path} is not JSON: delete it to start over`);
  }
  const cp = doc as Partial<Checkpoint> | null;
  if (cp?.format !== 1 || typeof cp.kinds !== "object" || cp.kinds === null) {
    throw new Error(`checkpoint ${path} is not a kindwatch checkpoint (format 1): delete it to start over`);
  }
  return cp as Checkpoint;
}

/** Writes a checkpoint atomically: a crash mid-write leaves the previous one whole. */
export async function writeCheckpoint(path: string, checkpoint: Checkpoint): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(checkpoint));
  await rename(tmp, path);
}
