/** The help texts of `kindwatch` and its commands. */
import type { Command } from "./args.js";

const connectionFlags = `Connection:
      --kubeconfig FILE     the kubeconfig to use (default: $KUBECONFIG, else the pod's service account, else ~/.kube/config)
      --context NAME        the kubeconfig context to use (default: its current-context)
      --cache-dir DIR       where discovery is cached, in DIR/discovery/HOST_PORT for 6 hours
                            (default: $KINDWATCH_KUBE_CACHE_DIR, else ~/.kube/cache/kindwatch)
      --discovery-cache=false  ask the server what it serves every time instead`;

const exitCodes = `Exit codes:
  0    done (for watch: its output was closed)
  1    error: cluster unreachable, credentials rejected, bad kubeconfig, unknown kind, forbidden, not found
  2    wrong command line: unknown command or flag, missing argument, unsupported output format
  130  interrupted by SIGINT (Ctrl-C), after stopping cleanly and saving the checkpoint (watch, get -w)
  143  terminated by SIGTERM, after stopping cleanly and saving the checkpoint`;

const overview = `kindwatch: watch and inspect every kind of Kubernetes resource, custom ones included.

Usage:
  kindwatch watch [KIND...] [flags]   a live stream of changes to every custom kind (or the kinds named)
  kindwatch kinds [flags]             every kind the server serves, custom ones marked
  kindwatch get KIND [NAME...]        objects of any kind, as kubectl get prints them
  kindwatch gateway [flags]           an OpenAI-compatible gateway, configured through its admin API
  kindwatch operator [flags]          the AI-model operator: AI custom resources into workloads and gateway routes
  kindwatch export --sink URL [flags] every change delivered to a sink as CloudEvents, at least once
  kindwatch rbac [KIND...] [flags]    the least read-only ClusterRole that 'kindwatch watch' needs for those kinds
  kindwatch help [COMMAND]            this help, or a command's
  kindwatch version                   the version (also --version)

KIND is anything kubectl accepts: a plural, singular or short name, a Kind, with or without its group
(widgets, widget, wd, Widget, widgets.example.com, widgets.v1.example.com), or a category (all).

${connectionFlags}

Environment:
  KUBECONFIG     kubeconfig files, separated by ':'
  KINDWATCH_KUBE_CACHE_DIR  the default of --cache-dir
  NO_COLOR       set to turn colours off (they are on only on a terminal)
  FORCE_COLOR    set (to anything but 0) to turn colours on off a terminal too

${exitCodes}

Run 'kindwatch COMMAND --help' for a command's flags.`;

const texts: Readonly<Record<Command, string>> = {
  watch: `kindwatch watch: a live stream of changes to objects of every custom kind, or of the kinds named.

Usage:
  kindwatch watch [KIND...] [flags]

With no KIND, every custom kind (CRDs and aggregated APIs) is watched, and kinds are followed as they come and go;
--all-resources adds the built-in kinds. The initial list of each kind arrives as ADDED events (origin "initial")
unless --no-initial; later changes are live. With --checkpoint, a restart resumes: only what changed while it was
stopped is reported (origin "relist").

Output (-o):
  (default)  TIME  EVENT  KIND  NAMESPACE/NAME  what changed (changed fields, short values as old→new)
  json       one JSON object a line: type, origin, group, version, kind, namespace, name, resourceVersion,
             changedPaths (MODIFIED only), finalStateUnknown (when set), object; events about kinds
             (KIND_ADDED, KIND_SYNCED, KIND_QUARANTINED, KIND_VERSION_CHANGED, KIND_REMOVED) as lines too
  yaml       the same objects as YAML documents separated by ---
In the default output, kinds that are quarantined (with the reason), removed or moved to another version are
reported on stderr.

Flags:
  -n, --namespace NS        watch one namespace (cluster-scoped kinds are then left out); default: all namespaces
  -A, --all-namespaces      watch all namespaces (the default)
  -l, --selector SEL        only objects with these labels (app=web,tier!=cache)
      --field-selector SEL  only objects with these fields (metadata.name=x)
      --all-resources       built-in kinds too
      --no-initial          leave out the initial ADDED events
      --checkpoint FILE     resume from, and keep saving to, FILE
      --metadata-only       watch metadata only (objects carry no spec or status): cheap wide watching
      --progress            show progress on stderr while the initial lists load (default: only on a terminal)
  -v, --verbose             log the engine's retries and failures on stderr
  -o, --output FORMAT       json or yaml

${connectionFlags}

Ctrl-C (SIGINT) or SIGTERM stops the watch and saves the checkpoint; see 'kindwatch --help' for exit codes.`,

  kinds: `kindwatch kinds: every kind the server serves, like kubectl api-resources, custom ones marked.

Usage:
  kindwatch kinds [flags]

Columns: NAME, SHORTNAMES, APIVERSION, NAMESPACED, KIND, CUSTOM (true for kinds served by a CRD or an aggregated
API outside Kubernetes' own groups); -o wide adds VERBS and CATEGORIES (comma-separated, as kubectl 1.35 prints
them); --counts adds COUNT. Apart from CUSTOM and COUNT, the table is kubectl api-resources' byte for byte.

Flags:
      --api-group GROUP     kinds of this API group only ("" or --api-group= for the core group)
      --namespaced[=BOOL]   namespaced kinds only (--namespaced=false: cluster-scoped kinds only)
      --verbs VERBS         kinds that support all these verbs (list,watch; repeatable)
      --counts              count the objects of each kind (in one namespace with -n); "-" where forbidden
      --custom              custom kinds only
  -l, --selector SEL        with --counts: count only objects with these labels
      --field-selector SEL  with --counts: count only objects with these fields
  -n, --namespace NS        with --counts: count namespaced kinds in NS only
      --no-headers          leave out the header line
  -o, --output FORMAT       wide, name (resource.group), json or yaml

${connectionFlags}`,

  get: `kindwatch get: objects of any kind, with the columns the server defines, as kubectl get prints them.

Usage:
  kindwatch get KIND[,KIND...] [NAME...] [flags]
  kindwatch get KIND/NAME... [flags]

Output is kubectl 1.35's, byte for byte.

Flags:
  -n, --namespace NS        the namespace (default: the context's, else "default")
  -A, --all-namespaces      every namespace, with a NAMESPACE column
  -l, --selector SEL        only objects with these labels
      --field-selector SEL  only objects with these fields
      --no-headers          leave out the header line
  -o, --output FORMAT       wide (more columns), name (kind.group/name), json, yaml,
                            jsonpath=TEMPLATE, jsonpath-file=FILE (kubectl's JSONPath: {.items[*].metadata.name},
                              {range .items[*]}{.metadata.name}{"\\n"}{end}, [?(@.status.phase=="Running")]),
                            custom-columns=HEADER:PATH,... or custom-columns-file=FILE (<none> where nothing is found)
      --show-labels         a LABELS column
  -L, --label-columns KEYS  a column for each of these labels (comma-separated, repeatable)
      --sort-by PATH        sort by this JSONPath's value (.metadata.name, {.spec.replicas}); quantities as quantities
      --ignore-not-found    missing objects are no error, and nothing found prints nothing
  -w, --watch               after the list, print each change (same format, header not repeated)
      --watch-only          print only the changes
With -w/--watch-only: one kind, at most one name; Ctrl-C exits 130 (kubectl exits 1).

${connectionFlags}`,

  gateway: `kindwatch gateway: an OpenAI-compatible API gateway whose routes, keys and profiles are applied live.

Usage:
  kindwatch gateway (--admin-token-file FILE | --admin-token-secret NS/NAME[:KEY] | --admin-client-ca FILE) [flags]

The data plane routes requests by host, path prefix and method to upstreams (OpenAI-compatible model servers or plain
HTTP services), with timeouts, fallback and a circuit breaker per upstream; errors are in OpenAI's format. It also
answers /healthz, /readyz (503 while stopping) and /metrics (Prometheus, with the OpenTelemetry GenAI names). The
admin API takes PUT, GET and DELETE of /admin/v1/{routes,keysets,profiles}/NAME and GET /admin/v1/state, with the
token as "Authorization: Bearer", a client certificate (mTLS), or both when both are configured. The state is kept in
memory only: every start begins empty, with a new boot id (header x-kindwatch-gateway-boot-id).

Flags:
      --listen HOST:PORT        the data plane's address (default 0.0.0.0:8080)
      --admin-listen HOST:PORT  the admin API's address (default 127.0.0.1:8081)
      --admin-token-file FILE   the file holding the admin API's bearer token
      --admin-token-secret NAMESPACE/NAME[:KEY]
                                the Kubernetes Secret holding the token under KEY (default "token"), read with the
                                kubeconfig (--kubeconfig, --context) or in the pod, and watched: a new value replaces
                                the old one at once, a deleted Secret or key refuses every admin request until it is back
      --admin-tls-cert FILE, --admin-tls-key FILE
                                serve the admin API over HTTPS with this certificate and key (PEM)
      --admin-client-ca FILE    require client certificates signed by this CA (PEM); then a token is optional, and
                                with one a request needs both
      --max-body-bytes N        larger request bodies are refused with 413 (default 1048576)
      --access-log=false        no access log (default: one JSON line per request on stdout)
      --redis URL               share rate limits, token budgets and sessions with other replicas through this
                                Redis (redis://[:password@]host:port[/db]); default: in this process's memory
      --redis-fail-open         while Redis is unreachable, admit requests uncounted (default: refuse them, 503)

SIGTERM or SIGINT stops accepting connections and lets requests in flight finish for up to 4 s.`,

  operator: `kindwatch operator: the AI-model operator, on kindwatch's controller runtime.

Usage:
  kindwatch operator --gateway-admin-url URL --gateway-token-file FILE [flags]

Reconciles AIModelDeployment (a Deployment and a Service, exposed through the gateway), AIModelBinding (gateway
routes and API keys) and LLMInvocationProfile (the gateway's LLM profiles, token totals in status) of
ai.kindwatch.dev/v1alpha1 (apply deploy/crds/ first). Status shows what the gateway confirmed live; a gateway that
restarted gets everything applied again; one that does not answer is retried, never fatal. Logs are JSON lines on
stderr; API keys never appear in logs, Events or status.

Flags:
      --gateway-admin-url URL        the gateway's admin API, e.g. http://kindwatch-gateway:8081 (required)
      --gateway-token-file FILE      the file holding the admin API's bearer token (required)
  -n, --namespace NS                 watch this namespace only (default: all namespaces)
      --leader-elect                 several replicas, one active: elected on a Lease
      --lease-name NAME              the Lease's name (default kindwatch-operator); one per operator that shares a
                                     namespace with another
      --lease-namespace NS           the Lease's namespace (default: --namespace, else the context's namespace)
      --lease-duration D             how long the others wait after the leader's last renewal before they take
                                     over; whole seconds (default 15s)
      --renew-deadline D             how long the leader keeps leading without a renewal; below --lease-duration
                                     (default 10s)
      --retry-period D               how often candidates try to acquire and the leader renews (default 2s)
      --metrics-listen HOST:PORT     /metrics, /healthz and /readyz (default 0.0.0.0:8080)
      --service-url-template T       a Service's URL as the gateway reaches it, with {name}, {namespace} and {port}
                                     (default http://{name}.{namespace}.svc:{port})

${connectionFlags}

SIGTERM or SIGINT drains reconciles in flight and releases the Lease (exit 143 or 130); losing the Lease exits 1.`,

  export: `kindwatch export: every change to every custom kind (or the kinds named) delivered to a sink as CloudEvents
1.0, at least once.

Usage:
  kindwatch export --sink URL --checkpoint FILE [--kinds KIND,...] [flags]

Each change is one CloudEvent (type dev.kindwatch.object.added|modified|deleted, or dev.kindwatch.kind.* for kinds
that come, sync, change version, are quarantined or go), with an id stable per change (uid/resourceVersion):
receivers de-duplicate on it. The checkpoint advances only past what the sink acknowledged, so after a crash, a
kill -9 or a receiver outage, a restart delivers again what was not (with the same ids). Failed deliveries are
retried with backoff, forever unless the receiver refuses an event for good (then exit 1). A slow receiver slows
the reading.

Sinks (--sink):
  file:///path/events.ndjson   structured CloudEvents as JSON, one a line, appended and fsynced before the ack
  -                            the same on stdout
  http(s)://host/path          POSTed per the CloudEvents HTTP binding; a 2xx acknowledges (the query is the receiver's)
  nats://host:4222[,host:4222][?stream=S&subject=T]  published to JetStream; each publish ack acknowledges
  kafka://broker:9092[,broker:9092]/topic  produced with acks=all by an idempotent producer, keyed by object uid

Sink options (--sink-option NAME=VALUE, repeatable; NATS and Kafka take them in the URL's query too). Credentials
are named by file only: a URL with user:password@ is refused, as URLs are logged.
  http   mode=binary|structured|batch  batch=N (events per batched request, default 100)  headers-file=PATH
         ("Name: value" lines)  bearer-token-file=PATH  ca-file= cert-file= key-file=PATH  insecure-skip-verify=true
         timeout-ms=N
  nats   subject=TEMPLATE (default kindwatch.{group}.{resource})  stream=NAME  create-stream=true  creds-file=PATH
         token-file=PATH  ca-file= cert-file= key-file=PATH (then tls://)  batch=N  ack-timeout-ms=N
  kafka  topic=NAME (or the path; default kindwatch)  mode=binary|structured  batch=N  client-id=ID  tls=true
         ca-file= cert-file= key-file=PATH

Flags:
      --sink URL            where events go (required)
      --sink-option NAME=VALUE  an option of the sink (see above; repeatable)
      --checkpoint FILE     resume from, and keep saving to, FILE (required)
      --kinds KIND,...      only these kinds (as watch's KIND arguments; repeatable)
  -n, --namespace NS        one namespace's objects only (cluster-scoped kinds are then left out)
  -A, --all-namespaces      all namespaces (the default)
  -l, --selector SEL        only objects with these labels
      --field-selector SEL  only objects with these fields
      --all-resources       built-in kinds too
      --metadata-only       watch metadata only (events carry no spec or status)
      --data MODE           what data carries: object (default), metadata, or patch (an RFC 6902 JSON Patch from the
                            state delivered before, application/json-patch+json; the whole object when none is known)
      --latest-state        let an object's changes not sent yet merge into its newest state (fewer events when
                            the receiver is slow; off: every change is delivered)
      --cluster-name NAME   the cluster in each event's source, kindwatch://NAME/apis/... (default: the kubeconfig
                            context's cluster, else the API server's host)
      --metrics-listen HOST:PORT  serve /metrics (kindwatch_export_events_delivered_total, _retries_total,
                            _lag_seconds, labelled by sink) and /healthz
  -v, --verbose             log more on stderr

${connectionFlags}

SIGTERM or SIGINT stops reading, delivers what it can for up to 5 s, saves the checkpoint and exits (143 or 130).`,

  rbac: `kindwatch rbac: the least read-only RBAC under which 'kindwatch watch' with the same kinds and flags watches
every kind it selects, never '*' on '*'.

Usage:
  kindwatch rbac [KIND...] [flags]

Computed from the server's discovery, as the watch resolves the kinds: list and watch on each kind watched (the
watch never reads single objects), grouped by API group. Also what the watch itself needs: list and watch on
CustomResourceDefinitions and APIServices (how it follows kinds as they come and go), create on
SelfSubjectAccessReviews (it asks before listing a kind), and get on the discovery URLs. Custom kinds installed later (with no KIND, or a category) are not covered: run it again.
With -n NS, the kinds are granted by a Role in NS (the watch reads that namespace only) and the rest by the
ClusterRole; bind both.

Flags:
  -n, --namespace NS        as 'kindwatch watch -n': the kinds in a Role in NS, cluster-scoped kinds left out
  -A, --all-namespaces      all namespaces (the default)
      --all-resources       built-in kinds too
      --name NAME           the ClusterRole's (and Role's) name; default kindwatch-watch
  -o, --output FORMAT       yaml (the default) or json

${connectionFlags}`,
  help: `kindwatch help [COMMAND]: the help of kindwatch, or of one command.`,
  version: `kindwatch version: prints the version of kindwatch.`,
};

/** The help of `command`, or the overview. */
export function helpText(command?: Command): string {
  return command ? texts[command] : overview;
}
