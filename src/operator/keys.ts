/**
 * API keys from a Secret, as the gateway takes them: a key set of sha256 hashes. The keys themselves go no further than
 * this module: what it returns holds hashes and key ids (the Secret's data key names) only.
 */
import { createHash } from "node:crypto";
import type { KeySetSpec, KeySpec, Source } from "../gateway/state.js";
import type { KubeObject } from "../object/types.js";
import type { Authentication } from "./types.js";

/** Why a key set cannot be made: the Secret is missing, or a key it should hold is. */
export type KeySetProblemReason = "SecretNotFound" | "KeyNotFound";

/** A key set, or why there is none (the message names the Secret and the data keys, never a value). */
export type KeySetResult =
  | { readonly spec: KeySetSpec }
  | { readonly problem: string; readonly reason: KeySetProblemReason };

/**
 * The gateway key set `name` for `auth`, from `secret` (undefined when it does not exist): every data key of the Secret,
 * or only `auth.keys`, is one API key whose id is the data key's name and whose `sha256` is the hex sha256 of the value
 * exactly as stored (base64-decoded, nothing trimmed: a value with a trailing newline matches no key a client sends).
 */
export function keySetFromSecret(
  name: string,
  source: Source,
  secret: KubeObject | undefined,
  auth: Authentication,
): KeySetResult {
  const secretName = auth.secretRef.name;
  if (!secret) return { problem: `Secret ${secretName} does not exist`, reason: "SecretNotFound" };
  const data = (secret as { data?: Record<string, string> | null }).data ?? {};
  const ids = auth.keys ?? Object.keys(data).sort();
  if (ids.length === 0) return { problem: `Secret ${secretName} holds no key`, reason: "KeyNotFound" };
  const missing = ids.filter((id) => typeof data[id] !== "string");
  if (missing.length > 0) {
    return { problem: `Secret ${secretName} has no key ${missing.join(", ")}`, reason: "KeyNotFound" };
  }
  const keys: KeySpec[] = ids.map((id) => ({
    id,
    sha256: createHash("sha256")
      .update(Buffer.from(data[id] as string, "base64"))
      .digest("hex"),
  }));
  return { spec: { name, source, keys } };
}
