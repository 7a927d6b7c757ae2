/**
 * `kindwatch gateway --admin-token-secret NAMESPACE/NAME[:KEY]` against the real API server: the admin token is read
 * from the Secret with kindwatch's own client and watched, so that a rotation takes effect without a restart (the old
 * token is refused as soon as the new one is accepted), a deleted Secret refuses every admin request until it is back,
 * and a Secret without the key stops the start with a message naming it.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import { GatewayProcess } from "../support/gateway.js";
import { waitFor } from "../support/wait.js";

const secretsGvr = { group: "", version: "v1", resource: "secrets" };
const b64 = (text: string) => Buffer.from(text).toString("base64");

describe("kindwatch gateway --admin-token-secret", () => {
  let env: ClientEnv;
  const running: GatewayProcess[] = [];

  before(async () => {
    env = await clientEnv("gw-admin-secret");
  });

  after(async () => {
    await Promise.all(running.map((g) => g.stop()));
    await env?.close();
  });

  const secrets = () => env.client.resource(secretsGvr).namespace(env.namespace);
  const putSecret = (name: string, data: Record<string, string>) =>
    secrets().apply(
      { apiVersion: "v1", kind: "Secret", metadata: { name, namespace: env.namespace }, data },
      { fieldManager: "test", force: true },
    );
  const start = async (ref: string, token: string) => {
    const gw = await GatewayProcess.start({ tokenSecret: { ref, kubeconfig: env.cluster.kubeconfigPath } }, token);
    running.push(gw);
    return gw;
  };
  const status = async (gw: GatewayProcess, token: string) =>
    (await gw.admin("GET", "/admin/v1/state", undefined, token)).status;

  it("takes the token from the Secret's key and follows its rotation without a restart", {
    timeout: 60_000,
  }, async () => {
    // A neighbour with the same prefix: the field selector must pick the one Secret named.
    await putSecret("gw-admin-neighbour", { token: b64("neighbour") });
    await putSecret("gw-admin", { token: b64("first\n"), other: b64("unused") });
    const gw = await start(`${env.namespace}/gw-admin`, "first");
    assert.equal(await status(gw, "first"), 200);
    assert.equal(await status(gw, "neighbour"), 401);
    assert.equal(await status(gw, "unused"), 401);

    await putSecret("gw-admin", { token: b64("second") });
    await waitFor("the rotated token to be accepted", async () => (await status(gw, "second")) === 200);
    assert.equal(await status(gw, "first"), 401, "the old token still works after the new one was accepted");
    await gw.cli.until("the rotation notice", (p) => /admin token .* changed/.test(p.stderr) || undefined);
    assert.doesNotMatch(gw.cli.stderr + gw.cli.stdout, /second/, "the token was printed");

    await secrets().delete("gw-admin");
    await waitFor("a deleted Secret to refuse every admin request", async () => (await status(gw, "second")) === 401);
    await putSecret("gw-admin", { token: b64("third") });
    await waitFor("the recreated Secret's token to be accepted", async () => (await status(gw, "third")) === 200);
    assert.equal(await status(gw, "second"), 401);
  });

  it("reads another key with NAME:KEY", { timeout: 60_000 }, async () => {
    await putSecret("gw-admin-keyed", { token: b64("not-this"), admin: b64("this-one") });
    const gw = await start(`${env.namespace}/gw-admin-keyed:admin`, "this-one");
    assert.equal(await status(gw, "this-one"), 200);
    assert.equal(await status(gw, "not-this"), 401);
  });

  it("does not start without a token in the Secret, saying which", { timeout: 60_000 }, async () => {
    await putSecret("gw-admin-empty", { other: b64("x") });
    for (const ref of [`${env.namespace}/gw-admin-empty`, `${env.namespace}/gw-admin-absent`]) {
      const result = await runCli(
        ["gateway", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--admin-token-secret", ref],
        { kubeconfig: env.cluster.kubeconfigPath },
      );
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, new RegExp(`--admin-token-secret ${ref}: the Secret has no key "token"`));
    }
    const bad = await runCli(["gateway", "--admin-token-secret", "no-slash"], {
      kubeconfig: env.cluster.kubeconfigPath,
    });
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /is not NAMESPACE\/NAME\[:KEY\]/);
  });
});
