/**
 * `429 Too Many Requests` from the real server's API Priority and Fairness, and what the transport does with it.
 *
 * The test user's requests are classified (by a FlowSchema) into a priority level with no seats of its own, no
 * borrowing and no queue: APF then lets exactly one of its requests execute at a time and rejects the others at once.
 * A create whose body never finishes arriving holds that one seat for as long as the test likes, so the server's 429s
 * are certain rather than hoped for, and they stop when the test lets the seat go.
 */
import assert from "node:assert/strict";
import type { ClientRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { after, before, describe, it } from "node:test";
import { type ClusterConfig, loadConfig } from "../../src/config/index.js";
import { ApiError, isTooManyRequests, type RetryEvent, Transport } from "../../src/http/index.js";
import { attachCluster, type ClusterAccess, type TestUser } from "../../src/testing/index.js";
import { adminConfig, createNamespace, deletePath } from "../support/http.js";
import { uniqueName, waitFor } from "../support/wait.js";

const flowcontrol = "/apis/flowcontrol.apiserver.k8s.io/v1";

/** A create as `user` that sends its headers and the first byte of its body, then waits: it holds an APF seat. */
class SeatHolder {
  readonly #request: ClientRequest;
  #answered = false;

  constructor(server: string, path: string, user: TestUser) {
    const creds = user.credentials;
    this.#request = httpsRequest(`${server}${path}`, {
      method: "POST",
      agent: false,
      ...(creds.caPem ? { ca: creds.caPem } : {}),
      ...(creds.certPem ? { cert: creds.certPem, key: creds.keyPem } : {}),
      headers: {
        "content-type": "application/json",
        "content-length": "1000",
        ...(creds.token ? { authorization: `Bearer ${creds.token}` } : {}),
      },
    });
    this.#request.on("response", (res) => {
      this.#answered = true;
      res.resume();
    });
    this.#request.on("error", () => {
      this.#answered = true;
    });
    this.#request.write("{");
  }

  /** Whether it holds nothing: released, or answered (the server rejected the holder itself). */
  get done(): boolean {
    return this.#answered || this.#request.destroyed;
  }

  /** Drops the connection: the server's read of the body fails and the seat is free. */
  release(): void {
    this.#request.destroy();
  }
}

describe("API Priority and Fairness 429s", () => {
  let cluster: ClusterAccess;
  let admin: Transport;
  let user: TestUser;
  let userConfig: ClusterConfig;
  let holder: SeatHolder | undefined;
  const namespace = uniqueName("http-apf");
  const level = uniqueName("kindwatch-jail");
  const schema = uniqueName("kindwatch-jail");
  const configmaps = `/api/v1/namespaces/${namespace}/configmaps`;

  /** Takes the priority level's only seat, and waits until the server rejects the user's next request for it. */
  async function holdTheSeat(): Promise<void> {
    const probe = new Transport(userConfig, { maxRetries: 0 });
    try {
      await waitFor("the held create to take the priority level's only seat", async () => {
        if (!holder || holder.done) {
          holder?.release();
          holder = new SeatHolder(cluster.server, configmaps, user);
        }
        try {
          await probe.request({ path: configmaps });
          return false;
        } catch (err) {
          if (isTooManyRequests(err)) return true;
          throw err;
        }
      });
    } finally {
      await probe.close();
    }
  }

  before(async () => {
    cluster = await attachCluster();
    admin = new Transport(adminConfig(cluster));
    await createNamespace(admin, namespace);
    user = await cluster.user(uniqueName("throttled"));
    userConfig = loadConfig({ kubeconfig: user.kubeconfigPath });
    await admin.request({
      method: "POST",
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`,
      body: {
        metadata: { name: "configmaps" },
        rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["get", "list", "create"] }],
      },
    });
    await admin.request({
      method: "POST",
      path: `/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`,
      body: {
        metadata: { name: "configmaps" },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "configmaps" },
        subjects: [user.subject],
      },
    });
    await admin.request({
      method: "POST",
      path: `${flowcontrol}/prioritylevelconfigurations`,
      body: {
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind: "PriorityLevelConfiguration",
        metadata: { name: level },
        spec: {
          type: "Limited",
          limited: {
            nominalConcurrencyShares: 0,
            lendablePercent: 0,
            borrowingLimitPercent: 0,
            limitResponse: { type: "Reject" },
          },
        },
      },
    });
    const subject =
      user.subject.kind === "User"
        ? { kind: "User", user: { name: user.subject.name } }
        : { kind: "ServiceAccount", serviceAccount: { name: user.subject.name, namespace: user.subject.namespace } };
    const flowSchema = (await admin.json({
      method: "POST",
      path: `${flowcontrol}/flowschemas`,
      body: {
        apiVersion: "flowcontrol.apiserver.k8s.io/v1",
        kind: "FlowSchema",
        metadata: { name: schema },
        spec: {
          priorityLevelConfiguration: { name: level },
          matchingPrecedence: 500,
          rules: [
            {
              subjects: [subject],
              resourceRules: [
                { verbs: ["*"], apiGroups: ["*"], resources: ["*"], namespaces: ["*"], clusterScope: true },
              ],
              nonResourceRules: [{ verbs: ["*"], nonResourceURLs: ["*"] }],
            },
          ],
        },
      },
    })) as { metadata: { uid: string } };
    const probe = new Transport(userConfig);
    try {
      await waitFor("APF to classify the user's requests under the test's FlowSchema", async () => {
        const res = await probe.request({ path: configmaps });
        return res.headers["x-kubernetes-pf-flowschema-uid"] === flowSchema.metadata.uid;
      });
    } finally {
      await probe.close();
    }
  });

  after(async () => {
    holder?.release();
    await deletePath(admin, `${flowcontrol}/flowschemas/${schema}`);
    await deletePath(admin, `${flowcontrol}/prioritylevelconfigurations/${level}`);
    await deletePath(admin, `/api/v1/namespaces/${namespace}`);
    await admin.close();
  });

  it("with maxRetries 0, the caller gets the server's 429 as a TooManyRequests ApiError", async () => {
    await holdTheSeat();
    const retries: RetryEvent[] = [];
    const transport = new Transport(userConfig, { onRetry: (e) => retries.push(e) });
    try {
      const err = await transport.json({ path: configmaps, maxRetries: 0 }).then(
        () => assert.fail("expected a 429"),
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApiError);
      assert.ok(isTooManyRequests(err));
      assert.equal(err.status, 429);
      assert.equal(err.reason, "TooManyRequests");
      assert.equal(
        err.message,
        `the server has received too many requests and has asked us to try again later (GET ${configmaps}): Too many requests, please try again later.`,
      );
      assert.ok((err.retryAfterSeconds ?? 0) >= 1, "APF always says when to come back");
      assert.ok(err.transient);
      assert.equal(retries.length, 0);
    } finally {
      holder?.release();
      await transport.close();
    }
  });

  it("retries concurrent requests that the server throttled, after its Retry-After, until they get through", async () => {
    const names = ["a", "b", "c", "d"];
    for (const name of names) {
      await admin.request({ method: "POST", path: configmaps, body: { metadata: { name }, data: { name } } });
    }
    await holdTheSeat();
    const retries: (RetryEvent & { at: number })[] = [];
    const transport = new Transport(userConfig, {
      maxRetries: 20,
      onRetry: (e) => retries.push({ ...e, at: performance.now() }),
    });
    const retriesOf = (name: string) => retries.filter((e) => e.request === `GET ${configmaps}/${name}`);
    try {
      const calls = names.map(async (name) => {
        const object = (await transport.json({ path: `${configmaps}/${name}`, timeoutMs: 120_000 })) as {
          data: { name: string };
        };
        return { name: object.data.name, at: performance.now() };
      });
      await waitFor("every request to have been throttled at least once", () =>
        names.every((name) => retriesOf(name).length > 0),
      );
      holder?.release();
      const results = await Promise.all(calls);
      assert.deepEqual(
        results.map((r) => r.name),
        names,
      );
      for (const [i, name] of names.entries()) {
        const mine = retriesOf(name);
        for (const [attempt, event] of mine.entries()) {
          assert.equal(event.attempt, attempt + 1);
          assert.equal(event.error.kind, "TooManyRequests");
          assert.equal(event.error.status, 429);
          const asked = event.error.retryAfterSeconds;
          assert.ok(asked !== undefined && asked >= 1, "the server sent Retry-After");
          assert.equal(event.delayMs, asked * 1000, "the transport waits exactly as long as the server asked");
          const next = mine[attempt + 1]?.at ?? results[i]?.at ?? 0;
          // Timers never fire early by more than a millisecond's rounding: the next attempt came no sooner.
          assert.ok(next - event.at >= event.delayMs - 2, `${name}: waited ${next - event.at} ms of ${event.delayMs}`);
        }
      }
    } finally {
      holder?.release();
      await transport.close();
    }
  });
});
