/**
 * A leader-election candidate as a process of its own, for tests that kill processes:
 *   node leader-child.js KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS
 * It prints one JSON line per transition (`{"event":"leading"|"stopped"|"new-leader"|"exit","id":...,"t":epochMs}`),
 * releases the Lease and exits on SIGTERM, and exits once leadership is lost.
 */
import { DynamicClient } from "../../src/client/resource.js";
import { loadConfig } from "../../src/config/index.js";
import { Transport } from "../../src/http/index.js";
import { LeaderElector } from "../../src/manager/index.js";

/** One line a candidate prints. */
export interface CandidateLine {
  readonly event: "leading" | "stopped" | "new-leader" | "exit";
  readonly id: string;
  /** Epoch ms when it happened. */
  readonly t: number;
  /** For `new-leader`: who. */
  readonly leader?: string;
}

const [kubeconfig, namespace, name, identity, leaseMs, renewMs, retryMs] = process.argv.slice(2);
if (!kubeconfig || !namespace || !name || !identity) throw new Error("usage: KUBECONFIG NAMESPACE LEASE IDENTITY ...");
const print = (line: Omit<CandidateLine, "id" | "t">) =>
  process.stdout.write(`${JSON.stringify({ ...line, id: identity, t: Date.now() })}\n`);

const transport = new Transport(loadConfig({ kubeconfig, env: {} }));
const stop = new AbortController();
process.on("SIGTERM", () => stop.abort());
const elector = new LeaderElector(new DynamicClient(transport), {
  namespace,
  name,
  identity,
  leaseDurationMs: Number(leaseMs),
  renewDeadlineMs: Number(renewMs),
  retryPeriodMs: Number(retryMs),
  logger: "none",
  onStartedLeading: () => {
    print({ event: "leading" });
  },
  onStoppedLeading: () => print({ event: "stopped" }),
  onNewLeader: (leader) => print({ event: "new-leader", leader }),
});
await elector.run(stop.signal);
print({ event: "exit" });
await transport.close();
