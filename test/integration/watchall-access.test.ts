/**
 * The engine's access reviews: an identity that may list and watch everything (an admin) is asked about once, not
 * once per kind; one that may list only some kinds is asked about each kind, and a kind it may not list is
 * quarantined. Counted from the transport's attempts against the real API server and its RBAC.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Transport } from "../../src/http/transport.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { grantClusterRole, revokeClusterRole } from "../support/rbac.js";
import { uniqueName } from "../support/wait.js";
import { EventLog, engineCluster, simpleCrd, transportFor, uniqueGroup } from "../support/watchall.js";

const reviews = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

describe("watch-all: access reviews", () => {
  let env: ClientEnv;
  const kinds = [1, 2, 3].map((i) => simpleCrd(uniqueGroup(`wa-access-${i}`)));
  const role = uniqueName("watchall-access");
  const transports: Transport[] = [];

  /** Counts the access reviews `transport` sends from now on. */
  function counted(transport: Transport): { readonly count: number } {
    const counter = { count: 0 };
    transport.observe({
      attempt: (e) => {
        if (e.method === "POST" && e.path === reviews) counter.count++;
      },
    });
    return counter;
  }

  /** An engine over the test's kinds (or `groups`) on `transport`, once each kind is synced or quarantined. */
  async function engineOn(transport: Transport, groups = kinds.map((k) => k.group)): Promise<EventLog> {
    const log = EventLog.start(engineCluster(transport), { include: { groups } });
    await log.engine.synced();
    return log;
  }

  before(async () => {
    env = await clientEnv("watchall-access");
    for (const spec of kinds) await createCrd(env.transport, spec);
  });
  after(async () => {
    await revokeClusterRole(env.client, role);
    for (const spec of kinds) await deleteCrd(env.transport, spec);
    for (const t of transports) await t.close();
    await env.close();
  });

  it("asks an identity that may list and watch everything once, not once per kind", async () => {
    const transport = transportFor(env.cluster.kubeconfigPath);
    transports.push(transport);
    const asked = counted(transport);
    const log = await engineOn(transport);
    try {
      assert.equal(log.engine.status().synced, kinds.length);
      assert.equal(asked.count, 2, "list and watch of every resource, for all kinds at once");
    } finally {
      await log.stop();
    }
  });

  it("asks about each kind when only some may be listed, and quarantines the others", async () => {
    const user = await env.cluster.user(uniqueName("access-watcher"));
    const [allowed, ...denied] = kinds.map((k) => k.group);
    await grantClusterRole(env.client, role, user.subject, [
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
      { apiGroups: [allowed], resources: ["gizmos"], verbs: ["list", "watch"] },
    ]);
    const transport = transportFor(user.kubeconfigPath);
    transports.push(transport);
    const asked = counted(transport);
    const log = await engineOn(transport);
    try {
      const status = log.engine.status();
      const state = (group: string | undefined) => status.kinds.find((k) => k.group === group)?.state;
      assert.equal(state(allowed), "synced");
      for (const group of denied) assert.equal(state(group), "quarantined", group);
      // Everything (list, watch), then each kind's list and watch; a quarantined kind asks again only after a backoff.
      assert.ok(asked.count >= 2 + 2 * kinds.length, `${asked.count} reviews`);
    } finally {
      await log.stop();
    }
  });
});
