/**
 * Discovery kept on disk between processes, as kubectl keeps it (`~/.kube/cache/discovery/HOST_PORT`, 6 hours), so
 * that a short-lived command maps names without asking the server first. One JSON file per server, written whole to a
 * temporary file and renamed into place, so that a reader sees the old file or the new one, never half of one.
 */
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { asMap } from "../object/narrow.js";
import { isAggregatedDocument, parseAggregatedDiscovery, type RootDocument } from "./aggregated.js";
import type { DiscoveryFetch } from "./fetch.js";
import type { DiscoveryResult } from "./types.js";

/** kubectl's: `k8s.io/cli-runtime`'s config flags hand client-go's disk-cached discovery a TTL of 6 hours. */
export const defaultDiscoveryCacheTtlMs = 6 * 60 * 60 * 1000;

/** Where and for how long a {@link DiscoveryClient} keeps discovery on disk. */
export interface DiscoveryDiskCacheOptions {
  /** This server's directory, e.g. from {@link discoveryCacheDir}; created when first written. */
  readonly dir: string;
  /** How long a cached discovery is used without asking the server; default 6 hours, as kubectl. */
  readonly ttlMs?: number | undefined;
}

/** The default root of kindwatch's caches: `~/.kube/cache/kindwatch`, beside kubectl's own. */
export function defaultCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.HOME || homedir(), ".kube", "cache", "kindwatch");
}

/**
 * A server's directory below a cache root: `ROOT/discovery/HOST_PORT`, named much as kubectl names its own: the URL
 * without its scheme, every character but letters, digits, `_` and `.` turned into `_` (a path's `/` too, so that
 * every server has one directory).
 */
export function discoveryCacheDir(root: string, server: string): string {
  const schemeless = server.replace(/^https?:\/\//, "").replace(/\/+$/, "");
  return join(root, "discovery", schemeless.replace(/[^\w.]/g, "_"));
}

const fileName = "discovery.json";
const format = "kindwatch.dev/discovery-cache/v1";

/** What the file holds: the aggregated root documents with their entity tags, or a legacy discovery's result. */
interface CacheFile {
  readonly format: typeof format;
  /** When the discovery it holds was fetched or last revalidated, in epoch milliseconds. */
  readonly fetchedAt: number;
  readonly roots?: { readonly api: RootDocument; readonly apis: RootDocument };
  readonly result?: DiscoveryResult;
}

/** A discovery read back from disk. */
export interface CachedDiscovery extends DiscoveryFetch {
  readonly fetchedAt: number;
}

function rootDocument(raw: unknown): RootDocument | undefined {
  const doc = asMap(raw);
  if (!doc || !isAggregatedDocument(doc.body)) return undefined;
  return typeof doc.etag === "string" ? { body: doc.body, etag: doc.etag } : { body: doc.body };
}

function legacyResult(raw: unknown): DiscoveryResult | undefined {
  const result = asMap(raw);
  if (result?.source !== "legacy") return undefined;
  const { groups, resources, unavailable } = result;
  if (!Array.isArray(groups) || !Array.isArray(resources) || !Array.isArray(unavailable)) return undefined;
  return result as unknown as DiscoveryResult;
}

/** The file's discovery, or undefined when it is missing or not one this version wrote whole. */
function parseCacheFile(text: string): CachedDiscovery | undefined {
  const file = asMap(JSON.parse(text));
  if (file?.format !== format || typeof file.fetchedAt !== "number" || !Number.isFinite(file.fetchedAt)) {
    return undefined;
  }
  const roots = asMap(file.roots);
  if (roots) {
    const api = rootDocument(roots.api);
    const apis = rootDocument(roots.apis);
    if (!api || !apis) return undefined;
    return { fetchedAt: file.fetchedAt, roots: { api, apis }, result: parseAggregatedDiscovery(api.body, apis.body) };
  }
  const result = legacyResult(file.result);
  return result ? { fetchedAt: file.fetchedAt, roots: undefined, result } : undefined;
}

/** One server's discovery on disk. Every failure to read or write is a miss: the cache is never worth a failed command. */
export class DiscoveryDiskCache {
  readonly dir: string;
  readonly ttlMs: number;

  constructor(options: DiscoveryDiskCacheOptions) {
    this.dir = options.dir;
    this.ttlMs = options.ttlMs ?? defaultDiscoveryCacheTtlMs;
  }

  /** The file this cache reads and writes. */
  get path(): string {
    return join(this.dir, fileName);
  }

  /** What the file holds, however old; undefined when it is missing, unreadable or corrupt (it is then rewritten). */
  async read(): Promise<CachedDiscovery | undefined> {
    try {
      return parseCacheFile(await readFile(this.path, "utf8"));
    } catch {
      return undefined;
    }
  }

  /** Whether a discovery fetched at `fetchedAt` may still be used at `now` without asking the server. */
  fresh(fetchedAt: number, now: number): boolean {
    return fetchedAt <= now && now - fetchedAt < this.ttlMs;
  }

  /** Replaces the file, atomically; resolves false when it could not be written. */
  async write(fetched: DiscoveryFetch, fetchedAt: number): Promise<boolean> {
    const file: CacheFile = fetched.roots
      ? { format, fetchedAt, roots: fetched.roots }
      : { format, fetchedAt, result: fetched.result };
    const tmp = join(this.dir, `.${fileName}.${process.pid}.${randomBytes(4).toString("hex")}`);
    try {
      await mkdir(this.dir, { recursive: true, mode: 0o750 });
      await writeFile(tmp, JSON.stringify(file), { mode: 0o640 });
      await rename(tmp, this.path);
      return true;
    } catch {
      await rm(tmp, { force: true }).catch(() => {});
      return false;
    }
  }
}
