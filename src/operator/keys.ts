/**
 * API keys from a Secret, as a gateway key set: only their hashes leave this module. Each data key of the Secret (or
 * each of `auth.keys`) is one API key whose id is the data key's name; its hash is the hex sha256 of the value exactly
 * as stored, after base64 decoding: no trimming, so a value written with a trailing newline is a key ending in one.
 */
import { createHash } from "node:crypto";
import type { KeySetSpec, Source } from "../gateway/state.js";
import { isMap } from "../object/narrow.js";
import type { KubeObject } from "../object/types.js";
import type { Authentication } from "./types.js";

/**
 * The key set `name` holding the keys of `secret` that `auth` selects, or the problem that stops it (a missing Secret,
 * a missing data key, no key at all). Problems name Secrets and data keys, never values.
 */
export function keySetFromSecret(
  name: string,
  source: Source,
  secret: KubeObject | undefined,
  auth: Authentication,
): { spec: KeySetSpec } | { problem: string } {
  const secretName = auth.secretRef.name;
  if (!secret) return { problem: `Secret ${secretName} not found` };
  const data = isMap(secret.data) ? (secret.data as Record<string, unknown>) : {};
  const ids = auth.keys ?? Object.keys(data).sort();
  const missing = ids.filter((id) => typeof data[id] !== "string");
  if (missing.length > 0) return { problem: `Secret ${secretName} has no key ${missing.join(", ")}` };
  if (ids.length === 0) return { problem: `Secret ${secretName} holds no keys` };
  const keys = ids.map((id) => ({
    id,
    sha256: createHash("sha256")
      .update(Buffer.from(data[id] as string, "base64"))
      .digest("hex"),
  }));
  return { spec: { name, source, keys } };
}
