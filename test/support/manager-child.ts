/**
 * A Manager with one controller as a process of its own, for tests that signal and kill processes:
 *   node manager-child.js KUBECONFIG NAMESPACE LEASE IDENTITY LEASE_MS RENEW_MS RETRY_MS MODE DRAIN_MS
 * The controller reconciles the ConfigMaps of NAMESPACE. MODE `apply`: each reconcile server-side applies the annotation
 * `kindwatch.test/reconciled-by: IDENTITY` with field manager IDENTITY (forced) and comes back after 200 ms. MODE `slow`:
 * each reconcile takes 3 s, or until its signal aborts. Reconciles log `reconcile start` and `reconcile end` (with
 * `aborted`) through the manager's JSON logger on stderr, where everything else the manager logs goes too. SIGTERM
 * stops gracefully (a second SIGTERM exits at once); a lost Lease exits with code 1.
 */
import { controller, done, requeueAfter } from "../../src/controller/index.js";
import { connect } from "../../src/index.js";
import { jsonLogger, LeaderElectionLostError, Manager, setupSignalHandler } from "../../src/manager/index.js";

/** The annotation the `apply` mode writes. */
const reconciledBy = "kindwatch.test/reconciled-by";

const [kubeconfig, namespace, name, identity, leaseMs, renewMs, retryMs, mode, drainMs] = process.argv.slice(2);
if (!kubeconfig || !namespace || !name || !identity || !mode) throw new Error("usage: KUBECONFIG NAMESPACE LEASE ...");

const cluster = connect({ kubeconfig, env: {} });
const log = jsonLogger({ level: "info" });
const mgr = new Manager(cluster, {
  logger: log,
  gracefulShutdownTimeoutMs: Number(drainMs),
  listen: { host: "127.0.0.1", port: 0 },
  leaderElection: {
    namespace,
    name,
    identity,
    leaseDurationMs: Number(leaseMs),
    renewDeadlineMs: Number(renewMs),
    retryPeriodMs: Number(retryMs),
  },
});
const configMaps = { group: "", version: "v1", resource: "configmaps", kind: "ConfigMap", namespaced: true } as const;
mgr.add(
  controller(cluster, { name: "child", namespace })
    .for(configMaps)
    .reconcile(async (req, ctx) => {
      ctx.log("info", "reconcile start", { identity });
      if (mode === "apply") {
        await ctx.primary.namespace(namespace).apply(
          {
            apiVersion: "v1",
            kind: "ConfigMap",
            metadata: { name: req.name, namespace, annotations: { [reconciledBy]: identity } },
          },
          { fieldManager: identity, force: true, signal: ctx.signal },
        );
        ctx.log("info", "reconcile end", { identity, aborted: false });
        return requeueAfter(200);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        ctx.signal.addEventListener("abort", () => {
          clearTimeout(timer);
          resolve();
        });
      });
      ctx.log("info", "reconcile end", { identity, aborted: ctx.signal.aborted });
      return done();
    }),
);
let code = 0;
try {
  await mgr.run(setupSignalHandler());
} catch (err) {
  code = 1;
  log("error", err instanceof LeaderElectionLostError ? "leadership lost, exiting" : "manager failed", {
    identity,
    error: err instanceof Error ? err.message : String(err),
  });
}
log("info", "exit", { identity, code });
await cluster.close();
process.exit(code);
