/** kubeconfig parsing, merging and context resolution, checked against clientcmd's rules, on files in a temp folder. */
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { stringify } from "yaml";
import {
  ConfigError,
  configFromKubeconfig,
  kubeconfigPaths,
  loadKubeconfig,
  mergeKubeconfigs,
  parseKubeconfig,
  readKubeconfig,
} from "../../src/config/index.js";
import { CertificateAuthority } from "../../src/testing/index.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const ca = CertificateAuthority.create();
const client = ca.issue({ commonName: "alice", usage: "client" });

/** Asserts that `f` throws a one-line ConfigError matching `pattern`, and returns its message. */
function configError(f: () => unknown, pattern: RegExp): string {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/, "the message must be one line");
    assert.match(err.message, pattern);
    return err.message;
  }
  assert.fail(`expected a ConfigError matching ${pattern}`);
}

function kubeconfig(fields: {
  clusters?: Record<string, unknown>;
  users?: Record<string, unknown>;
  contexts?: Record<string, unknown>;
  current?: string;
}): string {
  const list = (m: Record<string, unknown> | undefined, key: string) =>
    Object.entries(m ?? {}).map(([name, value]) => ({ name, [key]: value }));
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: list(fields.clusters, "cluster"),
    users: list(fields.users, "user"),
    contexts: list(fields.contexts, "context"),
    ...(fields.current !== undefined ? { "current-context": fields.current } : {}),
  });
}

/** A one-context kubeconfig, parsed, with `cluster` and `user` fields merged over working defaults. */
function single(cluster: Record<string, unknown>, user: Record<string, unknown> = {}, file = "/kc/config") {
  return parseKubeconfig(
    kubeconfig({
      clusters: { c: { server: "https://example.test:6443", ...cluster } },
      users: { u: user },
      contexts: { ctx: { cluster: "c", user: "u" } },
      current: "ctx",
    }),
    file,
  );
}

describe("kubeconfig files", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "kindwatch-kubeconfig-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("merges several files: the first to define a name wins whole, the first current-context wins", async () => {
    const first = join(dir, "first");
    const second = join(dir, "second");
    await writeFile(
      first,
      kubeconfig({
        clusters: { shared: { server: "https://first.test" } },
        users: { shared: { token: "first-token" } },
        contexts: { one: { cluster: "shared", user: "shared" } },
        current: "",
      }),
    );
    await writeFile(
      second,
      kubeconfig({
        clusters: {
          shared: { server: "https://second.test", "insecure-skip-tls-verify": true },
          other: { server: "https://other.test" },
        },
        users: { shared: { token: "second-token" }, other: { token: "other-token" } },
        contexts: { one: { cluster: "other", user: "other" }, two: { cluster: "other", user: "shared" } },
        current: "two",
      }),
    );
    const kc = readKubeconfig([first, join(dir, "missing"), second]);
    assert.deepEqual(kc.files, [first, second], "a missing file in the list is skipped");
    assert.equal(kc.currentContext, "two", "an empty current-context does not count as set");
    assert.deepEqual(
      kc.clusters.map((c) => [c.name, c.value, c.file]),
      [
        // Not merged field by field: the second file's insecure-skip-tls-verify does not leak into the first's entry.
        ["shared", { server: "https://first.test" }, first],
        ["other", { server: "https://other.test" }, second],
      ],
    );
    assert.deepEqual(
      kc.contexts.map((c) => [c.name, c.value.cluster]),
      [
        ["one", "shared"],
        ["two", "other"],
      ],
    );
    const config = configFromKubeconfig(kc);
    assert.equal(config.server, "https://other.test");
    assert.deepEqual(await config.auth.credentials(), { token: "first-token" }, "user 'shared' comes from the first");
    assert.equal((await configFromKubeconfig(kc, { context: "one" })).server, "https://first.test");
  });

  it("resolves relative paths against the file that defines them", async () => {
    const a = join(dir, "a");
    const b = join(dir, "b", "nested");
    await mkdir(join(a, "pki"), { recursive: true });
    await mkdir(join(b, "certs"), { recursive: true });
    await writeFile(join(a, "pki", "ca.crt"), ca.pair.certPem);
    await writeFile(join(b, "certs", "alice.crt"), client.certPem);
    await writeFile(join(b, "certs", "alice.key"), client.keyPem);
    await writeFile(join(b, "token"), "from-file\n");
    await writeFile(
      join(a, "config"),
      kubeconfig({
        clusters: { c: { server: "https://a.test", "certificate-authority": "pki/ca.crt" } },
        contexts: { ctx: { cluster: "c", user: "alice" } },
        current: "ctx",
      }),
    );
    await writeFile(
      join(b, "config"),
      kubeconfig({
        users: {
          alice: { "client-certificate": "certs/alice.crt", "client-key": "./certs/alice.key", tokenFile: "token" },
          plugin: { exec: { command: "./bin/plugin", apiVersion: "client.authentication.k8s.io/v1" } },
          onpath: { exec: { command: "kubelogin", apiVersion: "client.authentication.k8s.io/v1" } },
        },
      }),
    );
    const kc = readKubeconfig([join(a, "config"), join(b, "config")]);
    const user = (name: string) => kc.users.find((u) => u.name === name)?.value;
    assert.equal(kc.clusters[0]?.value["certificate-authority"], join(a, "pki", "ca.crt"));
    assert.equal(user("alice")?.["client-certificate"], join(b, "certs", "alice.crt"));
    assert.equal(user("alice")?.tokenFile, join(b, "token"));
    assert.equal(user("plugin")?.exec?.command, join(b, "bin", "plugin"), "a command with a slash is a path");
    assert.equal(user("onpath")?.exec?.command, "kubelogin", "a bare command is looked up on PATH");
    const config = configFromKubeconfig(kc);
    assert.equal(config.tls.ca, ca.pair.certPem);
    assert.equal(config.tls.cert, client.certPem);
    assert.equal(config.tls.key, client.keyPem);
    assert.deepEqual(await config.auth.credentials(), { token: "from-file" });
  });

  it("reads KUBECONFIG as a list, dropping empty entries and repeats, else ~/.kube/config", () => {
    assert.deepEqual(kubeconfigPaths({ KUBECONFIG: "/a::/b:/a:" }), ["/a", "/b"]);
    assert.deepEqual(kubeconfigPaths({ KUBECONFIG: "", HOME: "/home/me" }), ["/home/me/.kube/config"]);
  });

  it("fails with what to do when no file exists, or a file is not a kubeconfig", async () => {
    configError(
      () => readKubeconfig([join(dir, "nope"), join(dir, "nada")]),
      /^no kubeconfig at .*nope.*set KUBECONFIG/,
    );
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "clusters: [\n  - name: x\n  cluster: {server: 1\n");
    configError(
      () => readKubeconfig([bad]),
      /bad\.yaml is not valid YAML \(.+\); fix it or point KUBECONFIG elsewhere$/,
    );
    const list = join(dir, "list.yaml");
    await writeFile(list, "- a\n- b\n");
    configError(() => readKubeconfig([list]), /list\.yaml is not a kubeconfig \(expected a mapping/);
    const scalar = join(dir, "scalar.yaml");
    await writeFile(scalar, "just text\n");
    configError(() => readKubeconfig([scalar]), /scalar\.yaml is not a kubeconfig/);
    const two = join(dir, "two.yaml");
    await writeFile(two, "clusters: []\n---\nusers: []\n");
    configError(
      () => readKubeconfig([two]),
      /two\.yaml is not valid YAML \(2 YAML documents where a kubeconfig is one\)/,
    );
    const empty = join(dir, "empty.yaml");
    await writeFile(empty, "");
    assert.deepEqual(readKubeconfig([empty]).contexts, [], "an empty file is an empty kubeconfig, as in clientcmd");
    const comments = join(dir, "comments.yaml");
    await writeFile(comments, "# nothing yet\n");
    assert.deepEqual(readKubeconfig([comments]).contexts, []);
    configError(
      () => loadKubeconfig({ paths: [empty] }),
      /sets no current-context; pass a context or run 'kubectl config use-context NAME'/,
    );
  });

  it("rejects fields of the wrong type and names defined twice in one file", () => {
    configError(
      () => parseKubeconfig("clusters:\n- name: c\n  cluster:\n    server: 6443\n", "/f"),
      /^\/f: cluster "c": 'server' must be a string; fix that field$/,
    );
    configError(
      () => parseKubeconfig("users:\n- name: u\n  user:\n    as-groups: admins\n", "/f"),
      /user "u": 'as-groups' must be a list of strings/,
    );
    configError(
      () => parseKubeconfig(kubeconfig({ clusters: { c: { "insecure-skip-tls-verify": "yes" } } }), "/f"),
      /'insecure-skip-tls-verify' must be true or false/,
    );
    configError(() => parseKubeconfig("contexts: {}\n", "/f"), /'contexts' must be a list/);
    configError(() => parseKubeconfig("users:\n- user: {}\n", "/f"), /an entry of 'users' has no name/);
    configError(
      () => parseKubeconfig("clusters:\n- name: c\n  cluster: {}\n- name: c\n  cluster: {}\n", "/f"),
      /cluster "c" is defined twice; remove one of them/,
    );
  });

  it("merges in memory the same way", () => {
    const a = parseKubeconfig(kubeconfig({ contexts: { x: { cluster: "a" } } }), "/a");
    const b = parseKubeconfig(kubeconfig({ contexts: { x: { cluster: "b" }, y: {} }, current: "y" }), "/b");
    const merged = mergeKubeconfigs([a, b]);
    assert.equal(merged.currentContext, "y");
    assert.deepEqual(
      merged.contexts.map((c) => [c.name, c.value.cluster, c.file]),
      [
        ["x", "a", "/a"],
        ["y", undefined, "/b"],
      ],
    );
  });
});

describe("context resolution", () => {
  it("selects the current context, or the one asked for, and its namespace", () => {
    const kc = parseKubeconfig(
      kubeconfig({
        clusters: { c: { server: "https://example.test:6443/" } },
        users: { u: {} },
        contexts: { a: { cluster: "c", user: "u", namespace: "team-a" }, b: { cluster: "c" } },
        current: "a",
      }),
      "/kc",
    );
    const a = configFromKubeconfig(kc);
    assert.equal(a.server, "https://example.test:6443", "no trailing slash");
    assert.equal(a.namespace, "team-a");
    assert.equal(a.source, 'context "a" in /kc');
    assert.equal(configFromKubeconfig(kc, { namespace: "override" }).namespace, "override");
    const b = configFromKubeconfig(kc, { context: "b" });
    assert.equal(b.namespace, "default");
    assert.equal(b.auth.description, "no credentials", "a context without a user is anonymous");
  });

  it("says which context, cluster or user is missing and what exists", () => {
    const kc = parseKubeconfig(
      kubeconfig({
        clusters: { c: { server: "https://x.test" } },
        contexts: {
          good: { cluster: "c" },
          nocluster: {},
          ghost: { cluster: "gone" },
          nouser: { cluster: "c", user: "bob" },
        },
      }),
      "/kc",
    );
    configError(() => configFromKubeconfig(kc), /^\/kc sets no current-context; pass a context/);
    configError(
      () => configFromKubeconfig(kc, { context: "prod" }),
      /^context "prod" is not in \/kc \(it has: good, nocluster, ghost, nouser\); pick one of those$/,
    );
    configError(
      () => configFromKubeconfig(kc, { context: "nocluster" }),
      /names no cluster; set contexts\[\]\.context\.cluster/,
    );
    configError(() => configFromKubeconfig(kc, { context: "ghost" }), /names cluster "gone", which \/kc lacks; add it/);
    configError(() => configFromKubeconfig(kc, { context: "nouser" }), /names user "bob", which \/kc lacks; add it/);
  });

  it("rejects a missing or invalid server URL, and reads host:port as client-go does", () => {
    configError(
      () => configFromKubeconfig(single({ server: undefined })),
      /cluster "c" in \/kc\/config has no server; set clusters\[\]\.cluster\.server/,
    );
    for (const server of ["https://", "ftp://x.test", "https://x.test/?a=b", "http://[::1"]) {
      configError(
        () => configFromKubeconfig(single({ server })),
        /has an invalid server URL ".*"; use https:\/\/HOST:PORT$/,
      );
    }
    const withCa = configFromKubeconfig(
      single({ server: "10.0.0.1:6443", "certificate-authority-data": b64(ca.pair.certPem) }),
    );
    assert.equal(withCa.server, "https://10.0.0.1:6443", "host:port with TLS settings means https");
    const plain = configFromKubeconfig(single({ server: "localhost:8080" }, { token: "secret" }));
    assert.equal(plain.server, "http://localhost:8080", "host:port without TLS settings means http");
    assert.equal(plain.auth.description, "no credentials", "credentials never go to a plain-http server");
    const path = configFromKubeconfig(single({ server: "https://proxy.test/k8s/clusters/c-1/" }));
    assert.equal(path.server, "https://proxy.test/k8s/clusters/c-1", "a path prefix is kept");
  });

  it("checks certificates: both halves, valid PEM, one source each, no CA with insecure-skip-tls-verify", () => {
    configError(
      () => configFromKubeconfig(single({}, { "client-certificate-data": b64(client.certPem) })),
      /^user "u" in \/kc\/config has a client-certificate but no client-key; add client-key$/,
    );
    configError(
      () => configFromKubeconfig(single({}, { "client-key-data": b64(client.keyPem) })),
      /has a client-key but no client-certificate/,
    );
    configError(
      () => configFromKubeconfig(single({ "certificate-authority-data": b64("not a pem") })),
      /certificate-authority-data is not a PEM certificate; fix it/,
    );
    configError(
      () =>
        configFromKubeconfig(
          single({}, { "client-certificate-data": b64(client.certPem), "client-key-data": b64(client.certPem) }),
        ),
      /client-key-data is not a PEM key/,
    );
    configError(
      () => configFromKubeconfig(single({ "certificate-authority": "/nowhere/ca.crt" })),
      /cannot read certificate-authority \/nowhere\/ca\.crt \(ENOENT\); fix the path/,
    );
    configError(
      () =>
        configFromKubeconfig(
          single({ "certificate-authority": "/ca.crt", "certificate-authority-data": b64(ca.pair.certPem) }),
        ),
      /has both certificate-authority and certificate-authority-data; keep one/,
    );
    configError(
      () =>
        configFromKubeconfig(
          single({ "certificate-authority-data": b64(ca.pair.certPem), "insecure-skip-tls-verify": true }),
        ),
      /sets both a certificate-authority and insecure-skip-tls-verify; keep one/,
    );
    const ok = configFromKubeconfig(
      single(
        { "certificate-authority-data": b64(ca.pair.certPem), "tls-server-name": "kubernetes" },
        { "client-certificate-data": b64(client.certPem), "client-key-data": b64(client.keyPem) },
      ),
    );
    assert.deepEqual(ok.tls, {
      ca: ca.pair.certPem,
      cert: client.certPem,
      key: client.keyPem,
      serverName: "kubernetes",
    });
    assert.equal(ok.auth.description, "client certificate");
    assert.deepEqual(configFromKubeconfig(single({ "insecure-skip-tls-verify": true })).tls, {
      insecureSkipVerify: true,
    });
  });

  it("maps impersonation, and refuses groups without a user", () => {
    const config = configFromKubeconfig(
      single(
        {},
        { token: "t", as: "jane", "as-uid": "42", "as-groups": ["dev", "ops"], "as-user-extra": { scopes: ["a"] } },
      ),
    );
    assert.deepEqual(config.impersonate, { user: "jane", uid: "42", groups: ["dev", "ops"], extra: { scopes: ["a"] } });
    configError(
      () => configFromKubeconfig(single({}, { "as-groups": ["dev"] })),
      /sets as-uid, as-groups or as-user-extra without 'as'; add the user to act as/,
    );
  });

  it("chooses the auth method as client-go does, and rejects the removed ones with what to use instead", async () => {
    const file = await mkdtemp(join(tmpdir(), "kindwatch-token-"));
    try {
      const tokenPath = join(file, "token");
      await writeFile(tokenPath, "file-token\n");
      const both = configFromKubeconfig(single({}, { token: "static", tokenFile: tokenPath }));
      assert.deepEqual(await both.auth.credentials(), { token: "file-token" }, "tokenFile wins over token");
      const fallback = configFromKubeconfig(single({}, { token: "static", tokenFile: join(file, "missing") }));
      assert.deepEqual(
        await fallback.auth.credentials(),
        { token: "static" },
        "token is used while the file is unreadable",
      );
    } finally {
      await rm(file, { recursive: true, force: true });
    }
    const exec = { command: "plugin", apiVersion: "client.authentication.k8s.io/v1", interactiveMode: "Never" };
    const certUser = { "client-certificate-data": b64(client.certPem), "client-key-data": b64(client.keyPem) };
    assert.equal(configFromKubeconfig(single({}, { token: "t", exec })).auth.description, "bearer token");
    assert.equal(
      configFromKubeconfig(single({}, { ...certUser, exec })).auth.description,
      "client certificate",
      "client-go ignores the exec plugin of a user with a client certificate",
    );
    assert.equal(configFromKubeconfig(single({}, { exec })).auth.description, "exec plugin plugin");
    configError(
      () => configFromKubeconfig(single({}, { username: "admin", password: "pw" })),
      /uses basic auth \(username\/password\), which Kubernetes removed in 1\.19; use a token, certificate or exec plugin$/,
    );
    configError(
      () => configFromKubeconfig(single({}, { token: "t", username: "admin" })),
      /has both a token and username\/password; keep only the token/,
    );
    configError(
      () => configFromKubeconfig(single({}, { "auth-provider": { name: "gcp" } })),
      /uses auth-provider "gcp", which Kubernetes clients no longer support; use gke-gcloud-auth-plugin instead/,
    );
    configError(
      () => configFromKubeconfig(single({}, { exec, "auth-provider": { name: "oidc" } })),
      /has both exec and auth-provider; keep only exec/,
    );
  });

  it("uses an oidc auth-provider's id-token until it expires", async () => {
    const jwt = (exp: number) =>
      `${Buffer.from('{"alg":"none"}').toString("base64url")}.${Buffer.from(JSON.stringify({ exp })).toString("base64url")}.sig`;
    let now = 1_000_000_000_000;
    const token = jwt(now / 1000 + 60);
    const config = configFromKubeconfig(
      single({}, { "auth-provider": { name: "oidc", config: { "id-token": token, "refresh-token": "r" } } }),
      { now: () => now },
    );
    assert.deepEqual(await config.auth.credentials(), { token });
    now += 61_000;
    await assert.rejects(config.auth.credentials(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /the oidc id-token expired at .* and kindwatch does not refresh it; log in again/);
      return true;
    });
    configError(
      () => configFromKubeconfig(single({}, { "auth-provider": { name: "oidc", config: {} } })),
      /auth-provider oidc has no id-token; log in again/,
    );
  });

  it("validates exec sections as kubectl does", () => {
    const exec = (e: Record<string, unknown>) => () => configFromKubeconfig(single({}, { exec: e }));
    const v1 = "client.authentication.k8s.io/v1";
    configError(
      exec({ apiVersion: v1, interactiveMode: "Never" }),
      /exec has no command; set users\[\]\.user\.exec\.command/,
    );
    configError(exec({ command: "p" }), /exec has no apiVersion; set it to client\.authentication\.k8s\.io\/v1/);
    configError(
      exec({ command: "p", apiVersion: "client.authentication.k8s.io/v1alpha1" }),
      /exec apiVersion client\.authentication\.k8s\.io\/v1alpha1 is not supported; use/,
    );
    configError(
      exec({ command: "p", apiVersion: v1 }),
      /exec with client\.authentication\.k8s\.io\/v1 needs interactiveMode; add interactiveMode: Never/,
    );
    configError(
      exec({ command: "p", apiVersion: v1, interactiveMode: "Sometimes" }),
      /interactiveMode "Sometimes" is invalid/,
    );
    configError(
      exec({ command: "p", apiVersion: v1, interactiveMode: "Never", env: [{ value: "x" }] }),
      /an exec env entry has no name/,
    );
    // v1beta1 defaults interactiveMode to IfAvailable.
    assert.equal(
      configFromKubeconfig(single({}, { exec: { command: "p", apiVersion: "client.authentication.k8s.io/v1beta1" } }))
        .auth.description,
      "exec plugin p",
    );
  });

  it("checks proxy-url and carries it", () => {
    assert.equal(
      configFromKubeconfig(single({ "proxy-url": "socks5://proxy.test:1080" })).proxyUrl,
      "socks5://proxy.test:1080",
    );
    configError(
      () => configFromKubeconfig(single({ "proxy-url": "proxy.test:3128" })),
      /has an invalid proxy-url "proxy\.test:3128"; use http:\/\//,
    );
  });
});
