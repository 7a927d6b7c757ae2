/**
 * PollingGatewayMonitor over a scripted driver: "restart" on a new boot id and on the first answer after an outage,
 * "state" on breaker or usage changes only, an outage logged once, and a run that ends on its signal.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LogLevel } from "../../src/cache/log.js";
import type { GatewayStateView } from "../../src/gateway/admin.js";
import type { GatewayDriver } from "../../src/gateway/driver.js";
import type { GatewayChange } from "../../src/operator/deps.js";
import { PollingGatewayMonitor } from "../../src/operator/monitor.js";
import { waitFor } from "../support/wait.js";

/** A driver whose `state()` answers what the test set last, or throws while `down`. */
function scripted() {
  const s = {
    view: undefined as GatewayStateView | undefined,
    down: false,
    calls: 0,
    driver: {
      bootId: undefined,
      state: async () => {
        s.calls++;
        if (s.down || !s.view) throw new Error("connect ECONNREFUSED 127.0.0.1:8081");
        return s.view;
      },
    } as unknown as GatewayDriver,
  };
  return s;
}

function view(bootId: string, breaker = "closed", outputTokens = 0): GatewayStateView {
  return {
    bootId,
    routes: [
      {
        name: "amb.ns.b.0",
        source: { uid: "u", generation: 1 },
        match: { pathPrefix: "/b" },
        upstreams: [{ url: "http://m", kind: "openai" }],
        errors: [],
        breakers: [{ url: "http://m", state: breaker as "closed", consecutiveFailures: 0 }],
      },
    ],
    keysets: [],
    profiles: [],
    usage: { profiles: [{ name: "llmp.ns.p", inputTokens: 1, outputTokens, byKey: [] }] },
  };
}

function watched(monitor: PollingGatewayMonitor) {
  const changes: GatewayChange[] = [];
  monitor.subscribe((c) => changes.push(c));
  return changes;
}

describe("PollingGatewayMonitor", () => {
  it("reports nothing on the first answer, then a restart when the boot id changes", async () => {
    const s = scripted();
    const monitor = new PollingGatewayMonitor(s.driver, { logger: "none" });
    const changes = watched(monitor);
    s.view = view("boot-1");
    await monitor.poll();
    assert.deepEqual(changes, []);
    assert.equal(monitor.latest()?.bootId, "boot-1");
    await monitor.poll();
    assert.deepEqual(changes, []);
    s.view = view("boot-2");
    await monitor.poll();
    assert.deepEqual(changes, ["restart"]);
  });

  it("reports a restart on the first answer after the gateway did not answer, and logs the outage once", async () => {
    const s = scripted();
    const logs: { level: LogLevel; message: string }[] = [];
    const monitor = new PollingGatewayMonitor(s.driver, { logger: (level, message) => logs.push({ level, message }) });
    const changes = watched(monitor);
    for (let i = 0; i < 3; i++) await monitor.poll();
    assert.equal(logs.filter((l) => l.message === "gateway unreachable, still trying").length, 1);
    assert.equal(monitor.latest(), undefined);
    s.view = view("boot-1");
    await monitor.poll();
    assert.deepEqual(changes, ["restart"]);
    // Down again, back with the same boot id: its state is intact (what failed meanwhile is retried), no restart.
    s.down = true;
    await monitor.poll();
    await monitor.poll();
    assert.equal(logs.filter((l) => l.message === "gateway unreachable, still trying").length, 2);
    assert.equal(monitor.latest()?.bootId, "boot-1", "the last answer stays");
    s.down = false;
    await monitor.poll();
    assert.deepEqual(changes, ["restart"]);
    assert.equal(logs.filter((l) => l.message === "gateway reachable again").length, 2);
  });

  it("reports a state change when a breaker or a token total changes, and nothing else", async () => {
    const s = scripted();
    const monitor = new PollingGatewayMonitor(s.driver, { logger: "none" });
    const changes = watched(monitor);
    s.view = view("b");
    await monitor.poll();
    s.view = { ...view("b"), keysets: [{ name: "k", source: { uid: "u", generation: 2 }, keys: [] }] };
    await monitor.poll();
    assert.deepEqual(changes, []);
    s.view = view("b", "open");
    await monitor.poll();
    assert.deepEqual(changes, ["state"]);
    s.view = view("b", "open", 7);
    await monitor.poll();
    assert.deepEqual(changes, ["state", "state"]);
  });

  it("polls until its signal aborts, and a throwing listener does not stop it", async () => {
    const s = scripted();
    s.view = view("b");
    const monitor = new PollingGatewayMonitor(s.driver, { pollMs: 5, logger: "none" });
    monitor.subscribe(() => {
      throw new Error("listener bug");
    });
    const stop = new AbortController();
    const running = monitor.run(stop.signal);
    await waitFor("a few polls", () => s.calls >= 3);
    s.view = view("c");
    await waitFor("the new boot id seen", () => monitor.latest()?.bootId === "c");
    stop.abort();
    // Resolves only once the loop has ended: a wait for the next poll is cut short by the signal.
    await running;
  });
});
