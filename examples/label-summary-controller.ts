// A generic controller: every object of a kind named at run time (ConfigMaps, Databases, any namespaced kind) that
// carries the label summary.kindwatch.dev/enabled=true gets a ConfigMap summarising it, owned by it, and removed
// through a finalizer when the object goes. Run it against your cluster until Ctrl-C:
//   node dist/examples/label-summary-controller.js NAMESPACE RESOURCE     (RESOURCE: configmaps, databases.example.com)
import { pathToFileURL } from "node:url";
import {
  type ApiResource,
  type Cluster,
  type Controller,
  connect,
  controller,
  done,
  EventRecorder,
  hasStatusSubresource,
  isNotFound,
  type KubeObject,
  meta,
  type Predicate,
  setControllerReference,
  setStatus,
  withFinalizer,
} from "kindwatch";

/** The label that opts an object in. */
export const enabledLabel = "summary.kindwatch.dev/enabled";
/** The finalizer that holds a summarised object until its summary is gone. */
export const summaryFinalizer = "summary.kindwatch.dev/cleanup";
// One field manager for every write, so that server-side apply knows these fields are ours from one reconcile to the
// next (and drops a field we stop sending).
const fieldManager = "label-summary-controller";
const configMaps = { group: "", version: "v1", resource: "configmaps" };

/** The summary ConfigMap's name: the kind is part of it, so a Database and a ConfigMap of the same name don't clash. */
export function summaryName(kind: string, name: string): string {
  return `summary-${kind.toLowerCase()}-${name}`;
}

const isEnabled = (obj: KubeObject | undefined) => obj?.metadata.labels?.[enabledLabel] === "true";

// An object that loses the label must be reconciled too (to remove its summary), so the label before or after counts.
const enabledBeforeOrAfter: Predicate = (old, obj) => isEnabled(old) || isEnabled(obj);

/** Options of {@link labelSummaryController}. */
export interface LabelSummaryOptions {
  /** The kind to summarise, as `cluster.lookup()` found it: any namespaced kind. */
  readonly resource: ApiResource;
  /** Watch one namespace only (default all). */
  readonly namespace?: string | undefined;
  /** Where Events about the summaries go; none without one. */
  readonly recorder?: EventRecorder | undefined;
}

/** The controller; `run(signal)` it. */
export function labelSummaryController(cluster: Cluster, options: LabelSummaryOptions): Controller {
  const { resource, recorder } = options;
  // An owner reference cannot cross namespaces, and a summary lives next to its object.
  if (!resource.namespaced) throw new TypeError(`${resource.resource} is cluster-scoped: summaries need a namespace`);
  const withStatus = hasStatusSubresource(resource);
  const kind = resource.kind;

  return (
    controller(cluster, { name: "label-summary", namespace: options.namespace, recorder, concurrency: 4 })
      .for(resource, { predicates: [enabledBeforeOrAfter] })
      // A summary edited or deleted by someone else reconciles its owner, which puts it back.
      .owns(configMaps)
      .reconcile(async (req, ctx) => {
        // Reads come from the informer's cache: the reconcile is called with a key, and works from the latest state,
        // whatever the event that queued it was.
        const obj = ctx.get(req);
        // Gone: the finalizer ran before it went (or it was never ours); nothing is left to do.
        if (!obj) return done();
        // The kind is namespaced (checked above), so every request has a namespace.
        const namespace = req.namespace ?? "";
        const summaries = ctx.client.resource(configMaps).namespace(namespace);
        const name = summaryName(kind, req.name);
        const removeSummary = async () => {
          try {
            await summaries.delete(name, { signal: ctx.signal });
          } catch (err) {
            if (!isNotFound(err)) throw err;
          }
        };

        if (!isEnabled(obj) && !meta.isBeingDeleted(obj)) {
          // The label was taken off: undo what we did and let go of the object, as a deletion would.
          if (!meta.hasFinalizer(obj, summaryFinalizer)) return done();
          await removeSummary();
          // resourceVersion in the patch makes it conditional: if the object changed meanwhile, this is a Conflict
          // (a throw, so a retry with backoff on fresh state) instead of dropping someone else's new finalizer.
          const finalizers = meta.finalizers(obj).filter((f) => f !== summaryFinalizer);
          const patch = { metadata: { resourceVersion: obj.metadata.resourceVersion, finalizers } };
          await ctx.primary.namespace(namespace).patch(req.name, patch, "merge", { fieldManager, signal: ctx.signal });
          return done();
        }

        // The finalizer goes on before the summary is written, so a deletion always waits for the cleanup below.
        await withFinalizer(
          ctx.primary,
          obj,
          summaryFinalizer,
          {
            ensure: async (current) => {
              const summary = {
                apiVersion: "v1",
                kind: "ConfigMap",
                metadata: { name, namespace },
                data: {
                  name: req.name,
                  kind,
                  labels: Object.entries(meta.labels(current))
                    .map(([k, v]) => `${k}=${v}`)
                    .sort()
                    .join(","),
                  resourceVersion: current.metadata.resourceVersion ?? "",
                },
              };
              // The owner reference maps the summary's events back here (owns above) and lets the garbage collector
              // remove the summary even if this controller is not running when the object goes.
              setControllerReference(current, summary);
              const before = ctx.cache(configMaps).get(`${namespace}/${name}`);
              // Server-side apply states the whole summary each time; an unchanged summary is not written. force:
              // the summary is this controller's alone, so it takes over fields someone else edited.
              const written = await summaries.apply(summary, { fieldManager, force: true, signal: ctx.signal });
              if (written.metadata.resourceVersion !== before?.metadata.resourceVersion) {
                ctx.recorder?.record(current, {
                  type: "Normal",
                  reason: "SummaryWritten",
                  action: "Summarize",
                  note: `ConfigMap ${name} summarises resourceVersion ${summary.data.resourceVersion}`,
                });
              }
              // Where the kind has a status, say so there too; setStatus writes nothing when nothing changed.
              if (withStatus) {
                await setStatus(
                  ctx.primary,
                  current,
                  { conditions: [{ type: "Summarized", status: "True", reason: "SummaryWritten", message: name }] },
                  { fieldManager, subresource: true, signal: ctx.signal },
                );
              }
            },
            cleanup: async (current) => {
              await removeSummary();
              ctx.recorder?.record(current, { type: "Normal", reason: "SummaryDeleted", action: "Cleanup" });
            },
          },
          { fieldManager, signal: ctx.signal },
        );
        // Done: the next change of the object or its summary queues it again. A throw above retries with backoff.
        return done();
      })
  );
}

// Run as a program (not when a test imports it): summarise RESOURCE's objects in NAMESPACE until Ctrl-C.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [namespace = "default", resourceName = "configmaps"] = process.argv.slice(2);
  const cluster = connect();
  const stop = new AbortController();
  process.once("SIGINT", () => stop.abort());
  process.once("SIGTERM", () => stop.abort());
  const recorder = new EventRecorder(cluster.client, {
    reportingController: "kindwatch.dev/label-summary",
    reportingInstance: process.env.HOSTNAME ?? "local",
  });
  try {
    const { resource } = await cluster.lookup(resourceName);
    console.log(`summarising ${resource.kind} in ${namespace} labelled ${enabledLabel}=true; Ctrl-C stops`);
    // run() resolves once the signal aborted and the reconciles in flight finished.
    await labelSummaryController(cluster, { resource, namespace, recorder }).run(stop.signal);
  } finally {
    await recorder.close();
    await cluster.close();
  }
}
