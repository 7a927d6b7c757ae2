/** Exec credential plugins: what they print, how it is parsed, and when the plugin runs (a real spawned Node script). */
import assert from "node:assert/strict";
import { rm } from "node:fs/promises";
import { after, describe, it } from "node:test";
import {
  type ClusterInfo,
  ConfigError,
  type ExecConfig,
  execAuth,
  parseExecCredential,
} from "../../src/config/index.js";
import { CertificateAuthority } from "../../src/testing/index.js";
import { execCredential, type TestPlugin, testPlugin } from "../support/plugin.js";
import { waitFor } from "../support/wait.js";

const v1 = "client.authentication.k8s.io/v1";
const v1beta1 = "client.authentication.k8s.io/v1beta1";
const ca = CertificateAuthority.create();
const pair = ca.issue({ commonName: "exec-user", usage: "client" });

function parseError(text: string, pattern: RegExp, apiVersion?: string): void {
  assert.throws(
    () => parseExecCredential(text, "plug", apiVersion),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.doesNotMatch(err.message, /\n/);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe("parseExecCredential", () => {
  it("reads a token from v1 and v1beta1, with and without an expiry", () => {
    const t = "2030-01-02T03:04:05Z";
    assert.deepEqual(
      parseExecCredential(JSON.stringify(execCredential({ token: "abc", expirationTimestamp: t })), "p", v1),
      {
        credentials: { token: "abc" },
        expiresAt: Date.parse(t),
      },
    );
    assert.deepEqual(parseExecCredential(JSON.stringify(execCredential({ token: "xyz" }, v1beta1)), "p", v1beta1), {
      credentials: { token: "xyz" },
      expiresAt: undefined,
    });
  });

  it("reads a client certificate and key (PEM, as plugins print them)", () => {
    const out = execCredential({ clientCertificateData: pair.certPem, clientKeyData: pair.keyPem });
    assert.deepEqual(parseExecCredential(JSON.stringify(out), "p").credentials, {
      cert: pair.certPem,
      key: pair.keyPem,
    });
  });

  it("rejects malformed output with a one-line message that says what is wrong", () => {
    parseError(
      "Please log in first",
      /^exec plugin "plug" printed something that is not JSON; it must print an ExecCredential/,
    );
    parseError("", /not JSON/);
    parseError(
      JSON.stringify({ apiVersion: v1, kind: "Status", status: {} }),
      /printed kind "Status", not an ExecCredential/,
    );
    parseError(
      JSON.stringify({ ...(execCredential({ token: "t" }) as object), apiVersion: "v1" }),
      /printed apiVersion "v1"; it must be/,
    );
    parseError(
      JSON.stringify(execCredential({ token: "t" }, v1beta1)),
      /printed apiVersion client\.authentication\.k8s\.io\/v1beta1 but the kubeconfig asks for client\.authentication\.k8s\.io\/v1; make them match/,
      v1,
    );
    parseError(JSON.stringify({ apiVersion: v1, kind: "ExecCredential" }), /without a status/);
    parseError(JSON.stringify(execCredential({})), /returned neither a token nor a client certificate and key/);
    parseError(
      JSON.stringify(execCredential({ clientCertificateData: pair.certPem })),
      /only a client certificate or only a key/,
    );
    parseError(
      JSON.stringify(execCredential({ clientCertificateData: "garbage", clientKeyData: "garbage" })),
      /client certificate or key that is not valid PEM/,
    );
    parseError(
      JSON.stringify(execCredential({ token: "t", expirationTimestamp: "tomorrow" })),
      /expirationTimestamp that is not an RFC 3339 time/,
    );
  });
});

describe("execAuth", () => {
  const plugins: TestPlugin[] = [];
  after(() => Promise.all(plugins.map((p) => rm(p.dir, { recursive: true, force: true }))));
  const plugin = async () => {
    const p = await testPlugin();
    plugins.push(p);
    return p;
  };
  const cluster: ClusterInfo = { server: "https://example.test:6443" };
  const execOf = (p: TestPlugin, extra: Partial<ExecConfig> = {}): ExecConfig => ({
    command: p.command,
    args: p.args,
    apiVersion: v1,
    interactiveMode: "Never",
    ...extra,
  });

  it("runs the plugin once while its credentials are valid, again when they expire", async () => {
    const p = await plugin();
    let now = Date.parse("2030-01-01T00:00:00Z");
    await p.answer([
      { stdout: execCredential({ token: "one", expirationTimestamp: "2030-01-01T00:01:00Z" }) },
      { stdout: execCredential({ token: "two" }) },
    ]);
    const auth = execAuth(execOf(p), "user u", cluster, { now: () => now });
    assert.deepEqual(await auth.credentials(), { token: "one" });
    now += 59_000;
    assert.deepEqual(await auth.credentials(), { token: "one" });
    assert.equal((await p.calls()).length, 1);
    now += 1_000;
    assert.deepEqual(await auth.credentials(), { token: "two" }, "at the expirationTimestamp the plugin runs again");
    now += 365 * 86_400_000;
    assert.deepEqual(await auth.credentials(), { token: "two" }, "without an expiry, credentials are kept");
    assert.equal((await p.calls()).length, 2);
  });

  it("runs again after invalidate, but not for credentials it has already replaced", async () => {
    const p = await plugin();
    await p.answer([{ stdout: execCredential({ token: "a" }) }, { stdout: execCredential({ token: "b" }) }]);
    const auth = execAuth(execOf(p), "user u", cluster);
    const first = await auth.credentials();
    auth.invalidate(first);
    assert.deepEqual(await auth.credentials(), { token: "b" });
    auth.invalidate(first);
    assert.deepEqual(await auth.credentials(), { token: "b" }, "a late 401 for the old token costs no run");
    assert.equal((await p.calls()).length, 2);
  });

  it("shares one run among concurrent callers", async () => {
    const p = await plugin();
    await p.answer([{ stdout: execCredential({ token: "shared" }), delayMs: 200 }]);
    const auth = execAuth(execOf(p), "user u", cluster);
    const all = await Promise.all(Array.from({ length: 8 }, () => auth.credentials(AbortSignal.timeout(10_000))));
    assert.ok(all.every((c) => c.token === "shared"));
    assert.equal((await p.calls()).length, 1);
  });

  it("gives up a run when every caller has, and starts afresh for the next", async () => {
    const p = await plugin();
    await p.answer([
      { stdout: execCredential({ token: "slow" }), delayMs: 30_000 },
      { stdout: execCredential({ token: "fast" }) },
    ]);
    const auth = execAuth(execOf(p), "user u", cluster);
    const a = new AbortController();
    const b = new AbortController();
    const first = auth.credentials(a.signal);
    const second = auth.credentials(b.signal);
    await waitFor("the plugin to start", async () => (await p.calls()).length === 1);
    a.abort(new Error("caller a gave up"));
    await assert.rejects(first, /caller a gave up/);
    b.abort(new Error("caller b gave up"));
    await assert.rejects(second, /caller b gave up/);
    assert.deepEqual(await auth.credentials(), { token: "fast" });
    assert.equal((await p.calls()).length, 2);
  });

  it("passes KUBERNETES_EXEC_INFO, the cluster when asked, and the env of the kubeconfig", async () => {
    const p = await plugin();
    await p.answer([{ stdout: execCredential({ token: "t" }, v1beta1) }, { stdout: execCredential({ token: "t" }) }]);
    const withCluster: ClusterInfo = {
      server: "https://example.test:6443",
      ca: ca.pair.certPem,
      serverName: "kubernetes",
      config: { audience: "kindwatch" },
    };
    const auth = execAuth(
      execOf(p, {
        apiVersion: v1beta1,
        interactiveMode: undefined,
        provideClusterInfo: true,
        env: [{ name: "PLUGIN_TEST", value: "42" }],
      }),
      "user u",
      withCluster,
    );
    await auth.credentials();
    const [call] = await p.calls();
    assert.deepEqual(call?.execInfo, {
      apiVersion: v1beta1,
      kind: "ExecCredential",
      spec: {
        interactive: false,
        cluster: {
          server: "https://example.test:6443",
          "tls-server-name": "kubernetes",
          "certificate-authority-data": Buffer.from(ca.pair.certPem).toString("base64"),
          config: { audience: "kindwatch" },
        },
      },
    });
    assert.equal(call?.env.PLUGIN_TEST, "42");
    const plain = execAuth(execOf(p), "user u", withCluster);
    await plain.credentials();
    assert.deepEqual((await p.calls())[1]?.execInfo, {
      apiVersion: v1,
      kind: "ExecCredential",
      spec: { interactive: false },
    });
  });

  it("tells a terminal-less Always plugin apart, and says interactive only when stdin is a terminal", async () => {
    const p = await plugin();
    await p.answer([{ stdout: execCredential({ token: "t" }) }]);
    const always = execAuth(execOf(p, { interactiveMode: "Always" }), "user u", cluster, { isTerminal: () => false });
    await assert.rejects(always.credentials(), /needs a terminal \(interactiveMode: Always\) but stdin is not one/);
    const never = execAuth(execOf(p), "user u", cluster, { isTerminal: () => true });
    await never.credentials();
    assert.deepEqual(
      (await p.calls()).map((c) => (c.execInfo as { spec: unknown }).spec),
      [{ interactive: false }],
    );
  });

  it("reports a failing plugin with its last stderr line, and a missing one with its installHint", async () => {
    const p = await plugin();
    await p.answer([{ stderr: "starting\nerror: token expired, run 'cloud login'\n", exitCode: 3 }]);
    await assert.rejects(execAuth(execOf(p), 'user "u" in /kc', cluster).credentials(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(
        err.message,
        /exec plugin ".*" \(user "u" in \/kc\) exited with code 3: error: token expired, run 'cloud login'$/,
      );
      return true;
    });
    const missing = execAuth(
      {
        command: "kindwatch-no-such-plugin",
        apiVersion: v1,
        interactiveMode: "Never",
        installHint: "Install it:\n  brew install it",
      },
      'user "u" in /kc',
      cluster,
    );
    await assert.rejects(missing.credentials(), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(
        err.message,
        'exec plugin "kindwatch-no-such-plugin" (user "u" in /kc) is not installed or not on PATH: Install it: brew install it',
      );
      return true;
    });
    await p.answer([{ stdout: "not json" }]);
    await assert.rejects(execAuth(execOf(p), "user u", cluster).credentials(), /printed something that is not JSON/);
  });
});
