/**
 * Discovery cached on disk against a real kube-apiserver: a second client reads it without a request, revalidation by
 * entity tag is answered 304, a miss refreshes it, and a corrupt or unwritable cache is only a miss.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ClusterConfig, loadConfig } from "../../src/config/index.js";
import {
  DiscoveryClient,
  DiscoveryDiskCache,
  type DiscoveryDiskCacheOptions,
  discoveryCacheDir,
  RestMapper,
} from "../../src/discovery/index.js";
import { type RequestOptions, type Response, Transport } from "../../src/http/index.js";
import { attachCluster } from "../../src/testing/index.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** One request as the transport sent it and as the server answered it. */
interface Seen {
  readonly path: string;
  readonly ifNoneMatch: string | undefined;
  readonly status: number;
}

/** A real transport that records every request it sends and the status it got. */
class RecordingTransport extends Transport {
  readonly seen: Seen[] = [];

  override async request(opts: RequestOptions): Promise<Response> {
    const res = await super.request(opts);
    this.seen.push({ path: opts.path, ifNoneMatch: opts.ifNoneMatch, status: res.status });
    return res;
  }

  take(): Seen[] {
    return this.seen.splice(0);
  }
}

describe("discovery disk cache", () => {
  let config: ClusterConfig;
  let admin: Transport;
  let root: string;
  const transports: Transport[] = [];

  function recording(): RecordingTransport {
    const t = new RecordingTransport(config);
    transports.push(t);
    return t;
  }

  async function cacheFor(name: string, ttlMs?: number): Promise<DiscoveryDiskCacheOptions> {
    const dir = discoveryCacheDir(join(root, name), config.server);
    return ttlMs === undefined ? { dir } : { dir, ttlMs };
  }

  before(async () => {
    const cluster = await attachCluster();
    config = loadConfig({ kubeconfig: cluster.kubeconfigPath });
    admin = new Transport(config);
    root = await mkdtemp(join(tmpdir(), "kindwatch-disk-cache-"));
  });

  after(async () => {
    await Promise.all([admin, ...transports].map((t) => t.close()));
    await rm(root, { recursive: true, force: true });
  });

  it("lays the cache out per server, as kubectl does", () => {
    assert.equal(discoveryCacheDir("/c", "https://127.0.0.1:6443"), "/c/discovery/127.0.0.1_6443");
    assert.equal(
      discoveryCacheDir("/c", "https://k8s.example.com:443/prefix/"),
      "/c/discovery/k8s.example.com_443_prefix",
    );
  });

  it("writes what it fetched, and a second client reads it from disk without a request", async () => {
    const diskCache = await cacheFor("second");
    const first = recording();
    const fetched = await new DiscoveryClient(first, { diskCache }).snapshot();
    assert.deepEqual(
      first
        .take()
        .map((s) => `${s.path} ${s.status}`)
        .sort(),
      ["/api 200", "/apis 200"],
    );
    assert.ok((await stat(new DiscoveryDiskCache(diskCache).path)).isFile());

    const second = recording();
    const read = await new DiscoveryClient(second, { diskCache }).snapshot();
    assert.deepEqual(second.take(), [], "no request: discovery came from disk");
    assert.equal(read.fetchedAt, fetched.fetchedAt, "as old as the file says");
    assert.deepEqual(read.resources, fetched.resources);
    assert.deepEqual(read.groups, fetched.groups);
  });

  it("revalidates by entity tag when the cache is older than its TTL: the server answers 304 Not Modified", async () => {
    const diskCache = await cacheFor("ttl", 0);
    await new DiscoveryClient(recording(), { diskCache }).snapshot();
    const stale = recording();
    // Other test files change CRDs meanwhile, and with them /apis's tag: wait for a quiet moment. /api's stays.
    const statuses = await waitFor("both root documents revalidated with 304", async () => {
      const snapshot = await new DiscoveryClient(stale, { diskCache }).snapshot();
      const seen = stale.take();
      assert.ok(snapshot.resources.some((r) => r.resource === "configmaps"));
      assert.ok(
        seen.every((s) => s.ifNoneMatch?.startsWith('"')),
        `each request carried the tag it had: ${JSON.stringify(seen)}`,
      );
      const api = seen.find((s) => s.path === "/api");
      assert.equal(api?.status, 304, "/api's tag does not change");
      return seen.every((s) => s.status === 304) && seen;
    });
    assert.deepEqual(statuses.map((s) => s.path).sort(), ["/api", "/apis"]);
  });

  it("revalidates the documents it holds on later refreshes, without reading the file again", async () => {
    const diskCache = await cacheFor("held");
    const t = recording();
    const client = new DiscoveryClient(t, { diskCache });
    await client.snapshot();
    await rm(new DiscoveryDiskCache(diskCache).path);
    t.take();
    await client.refresh();
    const seen = t.take();
    assert.deepEqual(seen.map((s) => s.path).sort(), ["/api", "/apis"]);
    assert.ok(
      seen.every((s) => s.ifNoneMatch !== undefined),
      `the tags came from memory, the file being gone: ${JSON.stringify(seen)}`,
    );
    assert.ok(await new DiscoveryDiskCache(diskCache).read(), "and the file was written again");
  });

  it("finds a CRD created after the cache was written: the miss revalidates and gets the new /apis", async () => {
    const diskCache = await cacheFor("miss");
    await new DiscoveryClient(recording(), { diskCache }).snapshot();
    const crd: CrdSpec = {
      group: `${uniqueName("diskmiss")}.kindwatch.dev`,
      kind: "Sprocket",
      plural: "sprockets",
      versions: [{ name: "v1", storage: true }],
    };
    await createCrd(admin, crd);
    try {
      const probe = new DiscoveryClient(admin);
      await waitFor("the CRD in discovery", async () =>
        (await probe.refresh()).resources.some((r) => r.group === crd.group),
      );
      const late = recording();
      const mapper = new RestMapper(new DiscoveryClient(late, { diskCache }));
      const found = await mapper.resolveResource(`sprockets.${crd.group}`);
      assert.deepEqual([found.group, found.version, found.kind], [crd.group, "v1", "Sprocket"]);
      const apis = late.seen.find((s) => s.path === "/apis");
      assert.ok(apis?.ifNoneMatch, "the refresh revalidated what the disk held");
      assert.equal(apis.status, 200, "the server's /apis had changed");
      const written = await new DiscoveryDiskCache(diskCache).read();
      assert.ok(
        written?.result.resources.some((r) => r.group === crd.group),
        "the new discovery was written back",
      );
    } finally {
      await deleteCrd(admin, crd);
    }
  });

  it("ignores a corrupt or truncated file and rewrites it", async () => {
    const diskCache = await cacheFor("corrupt");
    const cache = new DiscoveryDiskCache(diskCache);
    await new DiscoveryClient(recording(), { diskCache }).snapshot();
    const whole = await readFile(cache.path, "utf8");
    for (const garbage of [whole.slice(0, whole.length / 2), "\u0000\u0001 not json", "{}", "[1,2]", "null"]) {
      await writeFile(cache.path, garbage);
      const t = recording();
      const snapshot = await new DiscoveryClient(t, { diskCache }).snapshot();
      assert.ok(
        snapshot.resources.some((r) => r.resource === "configmaps"),
        `discovered despite ${garbage.slice(0, 20)}`,
      );
      assert.deepEqual(
        t
          .take()
          .map((s) => `${s.path} ${s.ifNoneMatch === undefined}`)
          .sort(),
        ["/api true", "/apis true"],
      );
      assert.ok(await cache.read(), "rewritten whole");
    }
  });

  it("discovers as usual when the cache cannot be written", async () => {
    const blocker = join(root, "a-file");
    await writeFile(blocker, "not a directory");
    const diskCache: DiscoveryDiskCacheOptions = { dir: join(blocker, "discovery") };
    const snapshot = await new DiscoveryClient(recording(), { diskCache }).snapshot();
    assert.ok(snapshot.resources.some((r) => r.resource === "configmaps"));
    assert.equal(await new DiscoveryDiskCache(diskCache).read(), undefined);
  });
});
