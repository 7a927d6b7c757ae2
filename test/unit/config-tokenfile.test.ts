/** Token files (kubeconfig `tokenFile`, a pod's service-account token): caching, re-reading, rotation; in-cluster setup. */
import assert from "node:assert/strict";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  ConfigError,
  inClusterConfig,
  isInCluster,
  tokenFileAuth,
  tokenFileRefreshMs,
} from "../../src/config/index.js";

describe("tokenFileAuth", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-tokenfile-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("caches the token for a minute, then reads the file again", async () => {
    const path = join(dir, "cached");
    await writeFile(path, "first\n");
    let now = 0;
    const auth = tokenFileAuth(path, { now: () => now });
    assert.deepEqual(await auth.credentials(), { token: "first" }, "trimmed");
    await writeFile(path, "second");
    now += tokenFileRefreshMs - 1;
    assert.deepEqual(await auth.credentials(), { token: "first" }, "not re-read within the minute");
    now += 1;
    assert.deepEqual(await auth.credentials(), { token: "second" });
  });

  it("reads again after a 401 for the cached token, not for one it has already replaced", async () => {
    const path = join(dir, "invalidated");
    await writeFile(path, "old");
    const auth = tokenFileAuth(path, { now: () => 0 });
    const old = await auth.credentials();
    await writeFile(path, "new");
    auth.invalidate({ token: "something else" });
    assert.deepEqual(await auth.credentials(), { token: "old" }, "a 401 for other credentials changes nothing");
    auth.invalidate(old);
    assert.deepEqual(await auth.credentials(), { token: "new" });
  });

  it("keeps the last token while the file is missing or empty, as during a rotation", async () => {
    const path = join(dir, "rotating");
    await writeFile(path, "kept");
    let now = 0;
    const auth = tokenFileAuth(path, { now: () => now });
    await auth.credentials();
    await unlink(path);
    now += tokenFileRefreshMs;
    assert.deepEqual(await auth.credentials(), { token: "kept" });
    await writeFile(path, "  \n");
    assert.deepEqual(await auth.credentials(), { token: "kept" });
    await writeFile(path, "rotated");
    assert.deepEqual(await auth.credentials(), { token: "rotated" }, "a failed read does not restart the minute");
  });

  it("fails with what to do when the file never was readable, unless there is a fallback", async () => {
    const missing = join(dir, "missing");
    await assert.rejects(tokenFileAuth(missing).credentials(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `cannot read token file ${missing} (ENOENT); check that it exists and is readable`);
      return true;
    });
    const empty = join(dir, "empty");
    await writeFile(empty, "\n");
    await assert.rejects(tokenFileAuth(empty).credentials(), /token file .*empty is empty; write a token into it/);
    assert.deepEqual(await tokenFileAuth(missing, { fallback: "static" }).credentials(), { token: "static" });
  });
});

describe("in-cluster config", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-sa-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("is possible only with the service env and a mounted token", async () => {
    const env = { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443" };
    assert.equal(isInCluster(env, dir), false, "no token yet");
    await writeFile(join(dir, "token"), "sa-token\n");
    assert.equal(isInCluster(env, dir), true);
    assert.equal(isInCluster({ KUBERNETES_SERVICE_HOST: "10.0.0.1" }, dir), false);
  });

  it("builds the server URL, namespace and token provider as client-go does", async () => {
    await writeFile(join(dir, "token"), "sa-token\n");
    await writeFile(join(dir, "namespace"), "team-a\n");
    const config = inClusterConfig({ KUBERNETES_SERVICE_HOST: "fd00::1", KUBERNETES_SERVICE_PORT: "6443" }, dir);
    assert.equal(config.server, "https://[fd00::1]:6443");
    assert.equal(config.namespace, "team-a");
    assert.deepEqual(config.tls, {}, "no ca.crt: the system's CAs");
    assert.deepEqual(await config.auth.credentials(), { token: "sa-token" });
    assert.equal(config.source, "in-cluster");
    const podNamespace = inClusterConfig(
      { KUBERNETES_SERVICE_HOST: "10.0.0.1", KUBERNETES_SERVICE_PORT: "443", POD_NAMESPACE: "from-env" },
      dir,
    );
    assert.equal(podNamespace.namespace, "from-env", "POD_NAMESPACE wins over the file");
  });

  it("says what is wrong when not in a pod or without a token", () => {
    assert.throws(
      () => inClusterConfig({}, dir),
      /not running in a pod \(KUBERNETES_SERVICE_HOST\/PORT unset\); use a kubeconfig/,
    );
    assert.throws(
      () => inClusterConfig({ KUBERNETES_SERVICE_HOST: "h", KUBERNETES_SERVICE_PORT: "1" }, join(dir, "nowhere")),
      /no service-account token at .*; is automountServiceAccountToken off for this pod\?/,
    );
  });
});
