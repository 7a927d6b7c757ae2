/**
 * Every way of authenticating, each proven by a real request to the real API server: a SelfSubjectReview tells who the
 * server thinks we are; forbidden and allowed calls tell what RBAC makes of it.
 */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import { type ClusterConfig, ConfigError, inClusterConfig, loadConfig } from "../../src/config/index.js";
import { ApiError, Transport, type TransportOptions } from "../../src/http/index.js";
import {
  attachCluster,
  CertificateAuthority,
  type ClusterAccess,
  type Credentials,
  simpleRequest,
} from "../../src/testing/index.js";
import { execCredential, type TestPlugin, testPlugin } from "../support/plugin.js";
import { uniqueName } from "../support/wait.js";

interface UserInfo {
  readonly username: string;
  readonly groups?: readonly string[];
}

const v1 = "client.authentication.k8s.io/v1";
const b64 = (s: string) => Buffer.from(s).toString("base64");
const harnessCluster = Boolean(process.env.KINDWATCH_TEST_CLUSTER);

describe("config: auth against the real API server", () => {
  let cluster: ClusterAccess;
  let dir: string;
  const namespace = uniqueName("config-auth");
  const transports: Transport[] = [];
  const plugins: TestPlugin[] = [];

  const admin = (path: string, body?: unknown, method = body === undefined ? "GET" : "POST") =>
    simpleRequest(`${cluster.server}${path}`, { method, body, credentials: cluster.admin });

  const transport = (config: ClusterConfig, options: TransportOptions = {}) => {
    const t = new Transport(config, options);
    transports.push(t);
    return t;
  };

  const whoami = async (t: Transport): Promise<UserInfo> => {
    const review = (await t.json({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    })) as { status: { userInfo: UserInfo } };
    return review.status.userInfo;
  };

  /** A service account in the test namespace, and a fresh token for it from the TokenRequest API. */
  const serviceAccountToken = async (name: string): Promise<string> => {
    const sa = await admin(`/api/v1/namespaces/${namespace}/serviceaccounts`, { metadata: { name } });
    assert.ok(sa.status === 201 || sa.status === 409, sa.text);
    const res = await admin(`/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: "authentication.k8s.io/v1",
      kind: "TokenRequest",
      spec: { expirationSeconds: 3600 },
    });
    assert.equal(res.status, 201, res.text);
    return (res.json as { status: { token: string } }).status.token;
  };
  const saName = (name: string) => `system:serviceaccount:${namespace}:${name}`;

  /** Writes a one-context kubeconfig and returns its path. */
  const writeKubeconfig = async (
    name: string,
    cluster: Record<string, unknown>,
    user: Record<string, unknown>,
    folder = dir,
  ): Promise<string> => {
    const path = join(folder, `${name}.kubeconfig`);
    await writeFile(
      path,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name, cluster }],
        users: [{ name, user }],
        contexts: [{ name, context: { cluster: name, user: name, namespace } }],
        "current-context": name,
      }),
    );
    return path;
  };
  const trusted = () => ({ server: cluster.server, "certificate-authority-data": b64(cluster.admin.caPem ?? "") });

  const execUser = (plugin: TestPlugin, extra: Record<string, unknown> = {}) => ({
    exec: { command: plugin.command, args: plugin.args, apiVersion: v1, interactiveMode: "Never", ...extra },
  });
  const newPlugin = async () => {
    const p = await testPlugin();
    plugins.push(p);
    return p;
  };

  before(async () => {
    cluster = await attachCluster();
    dir = await mkdtemp(join(tmpdir(), "kindwatch-config-auth-"));
    const ns = await admin("/api/v1/namespaces", { metadata: { name: namespace } });
    assert.equal(ns.status, 201, ns.text);
  });

  after(async () => {
    await Promise.all(transports.map((t) => t.close()));
    await admin(`/api/v1/namespaces/${namespace}`, undefined, "DELETE");
    await rm(dir, { recursive: true, force: true });
    await Promise.all(plugins.map((p) => rm(p.dir, { recursive: true, force: true })));
  });

  describe("client certificates", () => {
    it("authenticates the harness's admin kubeconfig", async () => {
      const t = transport(loadConfig({ kubeconfig: cluster.kubeconfigPath, env: {} }));
      const me = await whoami(t);
      assert.ok(me.username, "the server names the admin");
      const list = (await t.json({ path: "/api/v1/namespaces" })) as { items: unknown[] };
      assert.ok(list.items.length > 0, "the admin may list namespaces");
    });

    it("authenticates a minted user with its name and groups, from certificate files relative to the kubeconfig", async (t) => {
      const groups = harnessCluster ? ["kindwatch:config-readers"] : [];
      const user = await cluster.user(uniqueName("cert-user"), groups);
      if (!user.credentials.certPem || !user.credentials.keyPem) {
        t.skip("this cluster mints service-account users, not certificate users");
        return;
      }
      const folder = join(dir, "cert-files");
      await mkdir(join(folder, "pki"), { recursive: true });
      await writeFile(join(folder, "pki", "ca.crt"), cluster.admin.caPem ?? "");
      await writeFile(join(folder, "pki", "user.crt"), user.credentials.certPem);
      await writeFile(join(folder, "pki", "user.key"), user.credentials.keyPem);
      const path = await writeKubeconfig(
        "cert-files",
        { server: cluster.server, "certificate-authority": "pki/ca.crt" },
        { "client-certificate": "pki/user.crt", "client-key": "./pki/user.key" },
        folder,
      );
      const config = loadConfig({ kubeconfig: path, env: {} });
      assert.equal(config.namespace, namespace);
      const me = await whoami(transport(config));
      assert.equal(me.username, user.name);
      for (const g of [...groups, "system:authenticated"]) assert.ok(me.groups?.includes(g), `group ${g}`);
    });
  });

  describe("bearer tokens", () => {
    it("sends a service-account token given as `token`", async () => {
      const token = await serviceAccountToken("static-token");
      const path = await writeKubeconfig("static-token", trusted(), { token });
      assert.equal(
        (await whoami(transport(loadConfig({ kubeconfig: path, env: {} })))).username,
        saName("static-token"),
      );
    });

    it("reads `tokenFile`, picks up a rotated token after a minute, and re-reads at once after a 401", async () => {
      const [one, two] = [await serviceAccountToken("file-one"), await serviceAccountToken("file-two")];
      const tokenPath = join(dir, "rotating-token");
      await writeFile(tokenPath, `${one}\n`);
      const path = await writeKubeconfig("token-file", trusted(), { tokenFile: "rotating-token" });
      let clock = Date.now();
      const t = transport(loadConfig({ kubeconfig: path, env: {}, now: () => clock }));
      assert.equal((await whoami(t)).username, saName("file-one"));

      await writeFile(tokenPath, two);
      assert.equal((await whoami(t)).username, saName("file-one"), "within the minute the cached token is used");
      clock += 61_000;
      assert.equal((await whoami(t)).username, saName("file-two"), "after the minute the file is read again");

      await writeFile(tokenPath, "not-a-valid-token");
      clock += 61_000;
      await assert.rejects(whoami(t), (err: unknown) => err instanceof ApiError && err.kind === "Unauthorized");
      // The invalid token is now cached, and the clock stands still: only the 401 can make the file be read again.
      await writeFile(tokenPath, one);
      assert.equal((await whoami(t)).username, saName("file-one"));
    });
  });

  describe("exec plugins", () => {
    it("runs once for concurrent requests, again after a 401, and again when the credential expires", async () => {
      const [one, two] = [await serviceAccountToken("exec-one"), await serviceAccountToken("exec-two")];
      let clock = Date.now();
      const inAMinute = () => new Date(clock + 60_000).toISOString();
      const plugin = await newPlugin();
      await plugin.answer([
        // Slow enough that every concurrent request waits on this same run.
        { stdout: execCredential({ token: "invalid-token", expirationTimestamp: inAMinute() }), delayMs: 300 },
        { stdout: execCredential({ token: one, expirationTimestamp: inAMinute() }) },
        { stdout: execCredential({ token: two, expirationTimestamp: new Date(clock + 180_000).toISOString() }) },
      ]);
      const path = await writeKubeconfig("exec-token", trusted(), execUser(plugin, { provideClusterInfo: true }));
      const t = transport(loadConfig({ kubeconfig: path, env: {}, now: () => clock }));

      const all = await Promise.all(Array.from({ length: 6 }, () => whoami(t)));
      assert.deepEqual(new Set(all.map((u) => u.username)), new Set([saName("exec-one")]));
      assert.equal((await plugin.calls()).length, 2, "one shared run, then one refresh for all six 401s");

      assert.equal((await whoami(t)).username, saName("exec-one"));
      assert.equal((await plugin.calls()).length, 2, "no run while the credential is valid");
      clock += 61_000;
      assert.equal((await whoami(t)).username, saName("exec-two"));
      assert.equal((await plugin.calls()).length, 3, "one run after the credential expired");

      const [first] = await plugin.calls();
      assert.ok(first, "the plugin recorded its first call");
      const spec = (first.execInfo as { spec: { interactive: boolean; cluster: Record<string, unknown> } }).spec;
      assert.equal(spec.interactive, false);
      assert.equal(spec.cluster.server, cluster.server);
      assert.equal(spec.cluster["certificate-authority-data"], b64(cluster.admin.caPem ?? ""));
    });

    it("authenticates with a client certificate the plugin returns, and with a new one after it expires", async (t) => {
      const groups = harnessCluster ? ["kindwatch:exec-group"] : [];
      const [alice, bob] = [
        await cluster.user(uniqueName("exec-alice"), groups),
        await cluster.user(uniqueName("exec-bob")),
      ];
      const certOf = (c: Credentials) => ({ clientCertificateData: c.certPem, clientKeyData: c.keyPem });
      if (!alice.credentials.certPem) {
        t.skip("this cluster mints service-account users, not certificate users");
        return;
      }
      let clock = Date.now();
      const plugin = await newPlugin();
      await plugin.answer([
        {
          stdout: execCredential({
            ...certOf(alice.credentials),
            expirationTimestamp: new Date(clock + 60_000).toISOString(),
          }),
        },
        { stdout: execCredential(certOf(bob.credentials)) },
      ]);
      const path = await writeKubeconfig("exec-cert", trusted(), execUser(plugin));
      const tr = transport(loadConfig({ kubeconfig: path, env: {}, now: () => clock }));
      const me = await whoami(tr);
      assert.equal(me.username, alice.name);
      for (const g of groups) assert.ok(me.groups?.includes(g), `group ${g}`);
      assert.equal((await whoami(tr)).username, alice.name);
      clock += 61_000;
      assert.equal((await whoami(tr)).username, bob.name, "new connections present the new certificate");
      assert.equal((await plugin.calls()).length, 2);
    });

    it("fails with the installHint when the plugin is not installed", async () => {
      const path = await writeKubeconfig("exec-missing", trusted(), {
        exec: {
          command: "kindwatch-no-such-credential-plugin",
          apiVersion: v1,
          interactiveMode: "IfAvailable",
          installHint: "Install it with:\n  npm install -g kindwatch-credential-plugin",
        },
      });
      const t = transport(loadConfig({ kubeconfig: path, env: {} }));
      await assert.rejects(t.json({ path: "/version" }), (err: unknown) => {
        assert.ok(err instanceof ConfigError, String(err));
        assert.match(
          err.message,
          /^exec plugin "kindwatch-no-such-credential-plugin" \(user "exec-missing" in .*\) is not installed or not on PATH: Install it with: npm install -g kindwatch-credential-plugin$/,
        );
        return true;
      });
    });
  });

  describe("TLS", () => {
    const adminUser = () => ({
      "client-certificate-data": b64(cluster.admin.certPem ?? ""),
      "client-key-data": b64(cluster.admin.keyPem ?? ""),
    });
    const networkError = (pattern: RegExp) => (err: unknown) => {
      assert.ok(err instanceof ApiError, String(err));
      assert.equal(err.kind, "Network");
      assert.match(err.message, pattern);
      return true;
    };

    it("verifies the server against the kubeconfig's CA, and refuses it under another CA or none", async (t) => {
      if (!cluster.admin.certPem) {
        t.skip("needs an admin with a client certificate");
        return;
      }
      const good = await writeKubeconfig("tls-good", trusted(), adminUser());
      const version = (await transport(loadConfig({ kubeconfig: good, env: {} })).json({ path: "/version" })) as {
        gitVersion: string;
      };
      assert.match(version.gitVersion, /^v1\./);
      const other = CertificateAuthority.create();
      const wrong = await writeKubeconfig(
        "tls-wrong",
        { server: cluster.server, "certificate-authority-data": b64(other.pair.certPem) },
        adminUser(),
      );
      const noRetry = { maxRetries: 0 };
      await assert.rejects(
        transport(loadConfig({ kubeconfig: wrong, env: {} }), noRetry).json({ path: "/version" }),
        networkError(/certificate/i),
      );
      const none = await writeKubeconfig("tls-none", { server: cluster.server }, adminUser());
      await assert.rejects(
        transport(loadConfig({ kubeconfig: none, env: {} }), noRetry).json({ path: "/version" }),
        networkError(/certificate/i),
      );
    });

    it("skips verification with insecure-skip-tls-verify", async (t) => {
      if (!cluster.admin.certPem) {
        t.skip("needs an admin with a client certificate");
        return;
      }
      const path = await writeKubeconfig(
        "tls-insecure",
        { server: cluster.server, "insecure-skip-tls-verify": true },
        adminUser(),
      );
      assert.ok((await whoami(transport(loadConfig({ kubeconfig: path, env: {} })))).username);
    });

    it("verifies against tls-server-name instead of the URL's host", async (t) => {
      if (!cluster.admin.certPem) {
        t.skip("needs an admin with a client certificate");
        return;
      }
      const right = await writeKubeconfig(
        "tls-name",
        { ...trusted(), "tls-server-name": "kubernetes.default.svc" },
        adminUser(),
      );
      assert.ok((await whoami(transport(loadConfig({ kubeconfig: right, env: {} })))).username);
      const wrong = await writeKubeconfig(
        "tls-badname",
        { ...trusted(), "tls-server-name": "not-the-server.example" },
        adminUser(),
      );
      await assert.rejects(
        transport(loadConfig({ kubeconfig: wrong, env: {} }), { maxRetries: 0 }).json({ path: "/version" }),
        networkError(/not-the-server\.example.*certificate|certificate.*not-the-server\.example/i),
      );
    });
  });

  it("impersonates a user and its groups: the admin acting as a minted user gets that user's 403", async () => {
    const user = await cluster.user(uniqueName("impersonated"));
    const path = await writeKubeconfig("impersonate", trusted(), {
      ...(cluster.admin.certPem
        ? { "client-certificate-data": b64(cluster.admin.certPem), "client-key-data": b64(cluster.admin.keyPem ?? "") }
        : { token: cluster.admin.token }),
      as: user.name,
      "as-groups": ["kindwatch:impersonated"],
    });
    const t = transport(loadConfig({ kubeconfig: path, env: {} }));
    const me = await whoami(t);
    assert.equal(me.username, user.name);
    assert.ok(me.groups?.includes("kindwatch:impersonated"));
    await assert.rejects(t.json({ path: `/api/v1/namespaces/${namespace}/secrets` }), (err: unknown) => {
      assert.ok(err instanceof ApiError);
      assert.equal(err.kind, "Forbidden");
      assert.match(err.message, new RegExp(`"${user.name}" cannot list resource "secrets"`));
      return true;
    });
    const self = await writeKubeconfig(
      "not-impersonating",
      trusted(),
      cluster.admin.certPem
        ? { "client-certificate-data": b64(cluster.admin.certPem), "client-key-data": b64(cluster.admin.keyPem ?? "") }
        : { token: cluster.admin.token },
    );
    const list = (await transport(loadConfig({ kubeconfig: self, env: {} })).json({
      path: `/api/v1/namespaces/${namespace}/secrets`,
    })) as { items: unknown[] };
    assert.ok(Array.isArray(list.items), "the same credentials without impersonation may list secrets");
  });

  it("reads in-cluster config from the service env and mounted files, and follows the token as it rotates", async () => {
    const [one, two] = [await serviceAccountToken("pod-one"), await serviceAccountToken("pod-two")];
    const sa = join(dir, "serviceaccount");
    await mkdir(sa, { recursive: true });
    await writeFile(join(sa, "token"), one);
    await writeFile(join(sa, "ca.crt"), cluster.admin.caPem ?? "");
    await writeFile(join(sa, "namespace"), namespace);
    const url = new URL(cluster.server);
    let clock = Date.now();
    const config = inClusterConfig({ KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }, sa, {
      now: () => clock,
    });
    assert.equal(config.namespace, namespace);
    const t = transport(config);
    assert.equal((await whoami(t)).username, saName("pod-one"));
    await writeFile(join(sa, "token"), two);
    clock += 61_000;
    assert.equal((await whoami(t)).username, saName("pod-two"));
  });

  it("loadConfig: explicit kubeconfig > KUBECONFIG > in-cluster > ~/.kube/config", async () => {
    const tokens = {
      explicit: await serviceAccountToken("from-explicit"),
      env: await serviceAccountToken("from-kubeconfig-env"),
      pod: await serviceAccountToken("from-pod"),
      home: await serviceAccountToken("from-home"),
    };
    const folder = join(dir, "precedence");
    const home = join(folder, "home");
    const sa = join(folder, "serviceaccount");
    await mkdir(join(home, ".kube"), { recursive: true });
    await mkdir(sa, { recursive: true });
    const explicit = await writeKubeconfig("explicit", trusted(), { token: tokens.explicit }, folder);
    const fromEnv = await writeKubeconfig("env", trusted(), { token: tokens.env }, folder);
    const homeConfig = await writeKubeconfig("home", trusted(), { token: tokens.home }, folder);
    await writeFile(join(home, ".kube", "config"), await readFile(homeConfig));
    await writeFile(join(sa, "token"), tokens.pod);
    await writeFile(join(sa, "ca.crt"), cluster.admin.caPem ?? "");
    const url = new URL(cluster.server);
    const pod = { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port };
    const kubeconfigEnv = `${join(folder, "missing.kubeconfig")}:${fromEnv}`;
    const who = async (options: Parameters<typeof loadConfig>[0]) =>
      (await whoami(transport(loadConfig(options)))).username;

    const all = { ...pod, KUBECONFIG: kubeconfigEnv, HOME: home };
    assert.equal(await who({ kubeconfig: explicit, env: all, serviceAccountDir: sa }), saName("from-explicit"));
    assert.equal(await who({ env: all, serviceAccountDir: sa }), saName("from-kubeconfig-env"));
    assert.equal(await who({ env: { ...pod, HOME: home }, serviceAccountDir: sa }), saName("from-pod"));
    assert.equal(await who({ env: { HOME: home }, serviceAccountDir: sa }), saName("from-home"));
    assert.equal(
      await who({ env: { ...pod, HOME: home }, serviceAccountDir: join(folder, "no-token-mounted") }),
      saName("from-home"),
      "the service env without a mounted token is not in-cluster",
    );
    assert.throws(
      () => loadConfig({ kubeconfig: join(folder, "typo.kubeconfig"), env: all }),
      /kubeconfig .*typo\.kubeconfig does not exist; check the path you passed/,
    );
    assert.throws(
      () => loadConfig({ env: { HOME: join(folder, "empty-home") }, serviceAccountDir: sa }),
      /no kubeconfig at .*empty-home\/\.kube\/config and not in a pod; set KUBECONFIG/,
    );
  });
});
