/**
 * The CLI's discovery cache on disk: a command writes it, the next one maps names from it without asking the server,
 * `--discovery-cache=false` leaves it alone, and a kind the cache does not know yet is found by one refresh.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { discoveryCacheDir } from "../../src/discovery/index.js";
import { runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv, configMap, configMapsGvr, createWidgetCrd } from "../support/client.js";

describe("kindwatch's discovery cache on disk", () => {
  let env: ClientEnv;
  let admin: string;
  let root: string;
  let file: string;

  before(async () => {
    env = await clientEnv("cli-cache");
    admin = env.cluster.kubeconfigPath;
    root = await mkdtemp(join(tmpdir(), "kindwatch-cli-cache-"));
    file = join(discoveryCacheDir(root, env.cluster.server), "discovery.json");
    await env.client
      .resource(configMapsGvr)
      .namespace(env.namespace)
      .create(configMap("cached", { a: "1" }));
  });

  after(async () => {
    await env?.close();
    await rm(root, { recursive: true, force: true });
  });

  it("maps names from the cache a previous command wrote, and not with --discovery-cache=false", async () => {
    const first = await runCli(["get", "configmaps", "-n", env.namespace, "--cache-dir", root], { kubeconfig: admin });
    assert.equal(first.code, 0, first.stderr);
    // A short name that only the cache knows: a command that maps it has read the cache, not asked the server.
    const cache = JSON.parse(await readFile(file, "utf8")) as {
      roots: {
        api: { body: { items: { versions: { resources: { resource: string; shortNames?: string[] }[] }[] }[] } };
      };
    };
    const core = cache.roots.api.body.items[0]?.versions[0]?.resources ?? [];
    const entry = core.find((r) => r.resource === "configmaps");
    assert.ok(entry, "the cache holds the core group's configmaps");
    entry.shortNames = [...(entry.shortNames ?? []), "kwcachedcm"];
    await writeFile(file, JSON.stringify(cache));

    const cached = await runCli(["get", "kwcachedcm", "-n", env.namespace, "--cache-dir", root], { kubeconfig: admin });
    assert.equal(cached.code, 0, cached.stderr);
    assert.match(cached.stdout, /^cached\s/m);

    const fresh = await runCli(
      ["get", "kwcachedcm", "-n", env.namespace, "--cache-dir", root, "--discovery-cache=false"],
      { kubeconfig: admin },
    );
    assert.equal(fresh.code, 1);
    assert.match(fresh.stderr, /unknown kind "kwcachedcm"/);
  });

  it("finds a kind created after the cache was written", async () => {
    const warm = await runCli(["get", "configmaps", "-n", env.namespace, "--cache-dir", root], { kubeconfig: admin });
    assert.equal(warm.code, 0, warm.stderr);
    const kind = await createWidgetCrd(env.client);
    try {
      const result = await runCli(["get", `widgets.${kind.group}`, "-n", env.namespace, "--cache-dir", root], {
        kubeconfig: admin,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /No resources found/);
      assert.match(await readFile(file, "utf8"), new RegExp(kind.group.replaceAll(".", "\\.")));
    } finally {
      await kind.remove();
    }
  });
});
