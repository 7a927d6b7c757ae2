/**
 * The admin API over mTLS: served over HTTPS with the gateway's certificate, to clients whose certificate the client CA
 * signed; others fail in the handshake. With client certificates alone no token is asked; with a token as well, a
 * request needs both. HttpGatewayDriver presents its client certificate.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Agent } from "undici";
import { HttpGatewayDriver } from "../../src/gateway/driver.js";
import { CertificateAuthority } from "../../src/testing/certs.js";
import { type AdminTls, call, GatewayProcess, source } from "../support/gateway.js";

describe("gateway: admin API over mTLS", () => {
  const servingCa = CertificateAuthority.create("gateway-serving-ca");
  const clientCa = CertificateAuthority.create("gateway-client-ca");
  const strangerCa = CertificateAuthority.create("some-other-ca");
  const serving = servingCa.issue({ commonName: "gateway-admin", hosts: ["127.0.0.1"], usage: "server" });
  const client = clientCa.issue({ commonName: "operator", usage: "client" });
  const stranger = strangerCa.issue({ commonName: "operator", usage: "client" });
  const tls: AdminTls = { serving, ca: servingCa.pair.certPem, mtls: { clientCa: clientCa.pair.certPem, client } };
  let certOnly: GatewayProcess;
  let both: GatewayProcess;
  const agents: Agent[] = [];

  before(async () => {
    [certOnly, both] = await Promise.all([
      GatewayProcess.start({ adminTls: tls, tokenless: true }),
      GatewayProcess.start({ adminTls: tls }),
    ]);
  });

  after(async () => {
    await Promise.all([certOnly?.stop(), both?.stop(), ...agents.map((a) => a.close())]);
  });

  /** GET /admin/v1/state presenting `pair` (none: no client certificate), trusting the serving CA. */
  const stateWith = (gw: GatewayProcess, pair: { certPem: string; keyPem: string } | undefined, token?: string) => {
    const agent = new Agent({
      connect: { ca: servingCa.pair.certPem, ...(pair ? { cert: pair.certPem, key: pair.keyPem } : {}) },
    });
    agents.push(agent);
    return call(`${gw.adminUrl}/admin/v1/state`, {
      dispatcher: agent,
      ...(token === undefined ? {} : { headers: { authorization: `Bearer ${token}` } }),
    });
  };

  it("serves HTTPS, to a client certificate of the client CA alone, with no token", { timeout: 20_000 }, async () => {
    assert.match(certOnly.adminUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await stateWith(certOnly, client);
    assert.equal(answer.status, 200, answer.text);
    assert.equal(answer.json?.bootId, certOnly.bootId);
    const driver = new HttpGatewayDriver({
      url: certOnly.adminUrl,
      tls: { ca: servingCa.pair.certPem, cert: client.certPem, key: client.keyPem },
    });
    try {
      const route = {
        name: "over-mtls",
        source: source(),
        match: { pathPrefix: "/m" },
        upstreams: [{ url: "http://127.0.0.1:1", kind: "http" as const }],
      };
      assert.equal(await driver.applyRoute(route), "applied");
      assert.equal(driver.bootId, certOnly.bootId);
      assert.ok((await driver.state()).routes.some((r) => r.name === "over-mtls"));
    } finally {
      await driver.close();
    }
  });

  it("refuses in the handshake a client without a certificate, or with one another CA signed", {
    timeout: 20_000,
  }, async () => {
    for (const gw of [certOnly, both]) {
      // The server's alert closes the connection: the client sees no answer at all, not even a 401.
      await assert.rejects(stateWith(gw, undefined, gw.token), /other side closed|certificate/);
      await assert.rejects(stateWith(gw, stranger, gw.token), /other side closed|certificate|unknown ca/);
      await assert.rejects(call(`${gw.adminUrl.replace("https:", "http:")}/admin/v1/state`));
      assert.equal(
        (await stateWith(gw, client, gw.token)).status,
        200,
        "the same request with the client's certificate",
      );
    }
  });

  it("asks for the token as well when it has one: a certificate alone or a wrong token is a 401", {
    timeout: 20_000,
  }, async () => {
    assert.equal((await stateWith(both, client)).status, 401);
    assert.equal((await stateWith(both, client, `${both.token}x`)).status, 401);
    assert.equal((await stateWith(both, client, both.token)).status, 200);
    const driver = new HttpGatewayDriver({
      url: both.adminUrl,
      token: both.token,
      tls: { ca: servingCa.pair.certPem, cert: client.certPem, key: client.keyPem },
    });
    try {
      assert.equal((await driver.state()).bootId, both.bootId);
    } finally {
      await driver.close();
    }
  });
});
