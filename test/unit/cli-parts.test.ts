/** The CLI's pure parts: ages, columns, the command line, change summaries, error messages, colours, progress. */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { age, humanDuration } from "../../src/cli/age.js";
import { parseCommandLine, UsageError } from "../../src/cli/args.js";
import { cellText, defaultTable, formatColumns } from "../../src/cli/columns.js";
import { CliError, failureMessage } from "../../src/cli/errors.js";
import { sortedKeys, yamlPrinter } from "../../src/cli/output.js";
import {
  ConnectionReport,
  connectionTrouble,
  noKindAllowed,
  ProgressLine,
  retryCountdown,
  syncReport,
} from "../../src/cli/progress.js";
import { unknownKindMessage } from "../../src/cli/resolve.js";
import { styleFor, visibleLength } from "../../src/cli/style.js";
import { changeParts, describePath, fitParts, summarize, valueAt } from "../../src/cli/summary.js";
import { eventJson, HumanLines, kindLabel, kindNotice } from "../../src/cli/watch-format.js";
import { ConfigError } from "../../src/config/errors.js";
import { type ClusterConfig, staticAuth } from "../../src/config/types.js";
import { ApiError } from "../../src/http/errors.js";
import type { KindEvent, ObjectEvent } from "../../src/watchall/types.js";

const s = 1000;
const m = 60 * s;
const h = 60 * m;
const d = 24 * h;

describe("cli: ages as kubectl prints them", () => {
  it("follows apimachinery's HumanDuration", () => {
    const cases: [number, string][] = [
      [-2 * s, "<invalid>"],
      [-1 * s, "0s"],
      [0, "0s"],
      [999, "0s"],
      [30 * s, "30s"],
      [119 * s, "119s"],
      [2 * m, "2m"],
      [2 * m + s, "2m1s"],
      [9 * m + 59 * s, "9m59s"],
      [10 * m + 30 * s, "10m"],
      [179 * m, "179m"],
      [3 * h, "3h"],
      [4 * h + 30 * m, "4h30m"],
      [8 * h + 30 * m, "8h"],
      [47 * h, "47h"],
      [48 * h, "2d"],
      [2 * d + 3 * h, "2d3h"],
      [7 * d + 23 * h, "7d23h"],
      [8 * d + 3 * h, "8d"],
      [729 * d, "729d"],
      [730 * d, "2y"],
      [731 * d, "2y1d"],
      [8 * 365 * d, "8y"],
      [10 * 365 * d + 100 * d, "10y"],
    ];
    for (const [ms, text] of cases) assert.equal(humanDuration(ms), text, `${ms} ms`);
  });

  it("ages a timestamp, and says <unknown> without one", () => {
    const now = Date.parse("2025-01-03T03:00:00Z");
    assert.equal(age("2025-01-01T00:00:00Z", now), "2d3h");
    assert.equal(age(undefined, now), "<unknown>");
    assert.equal(age("yesterday", now), "<unknown>");
  });
});

describe("cli: columns as kubectl lays them out", () => {
  it("pads each column but the last to its widest cell plus 3, at least 6", () => {
    assert.deepEqual(
      formatColumns([
        ["NAME", "A", "AGE"],
        ["a-long-name", "", "5m"],
        ["b", "xyz", "30s"],
      ]),
      ["NAME          A     AGE", "a-long-name         5m", "b             xyz   30s"],
    );
  });

  it("measures coloured cells by what shows", () => {
    const bold = "\x1b[1mNAME\x1b[22m";
    assert.equal(visibleLength(bold), 4);
    assert.deepEqual(formatColumns([[bold, "X"]]), [`${bold}   X`]);
  });

  it("makes kubectl's NAME and AGE table for kinds without a Table view", () => {
    const now = Date.parse("2025-01-01T00:10:00Z");
    const object = {
      apiVersion: "x/v1",
      kind: "X",
      metadata: { name: "a", creationTimestamp: "2025-01-01T00:05:00Z" },
    };
    const table = defaultTable([object], now);
    assert.deepEqual(
      table.columnDefinitions.map((c) => c.name),
      ["Name", "Age"],
    );
    assert.deepEqual(table.rows, [{ cells: ["a", "5m"], object }]);
  });

  it("prints cells as kubectl does: nothing for null, one line, no terminal escapes", () => {
    assert.equal(cellText(null), "");
    assert.equal(cellText(undefined), "");
    assert.equal(cellText(3), "3");
    assert.equal(cellText(0.5), "0.5");
    assert.equal(cellText(false), "false");
    assert.equal(cellText("first\nsecond"), "first...");
    assert.equal(cellText("tab\there"), "tab\\x09here");
    assert.equal(cellText("\x1b[31mred"), "\\x1b[31mred");
    assert.equal(cellText({ a: 1 }), '{"a":1}');
  });
});

describe("cli: the command line", () => {
  it("takes kubectl's flags anywhere, short ones bundled", () => {
    const inv = parseCommandLine(["-A", "get", "-owide", "widgets", "--kubeconfig", "/k", "-l", "a=b", "x"]);
    assert.equal(inv.command, "get");
    assert.deepEqual(inv.args, ["widgets", "x"]);
    assert.equal(inv.allNamespaces, true);
    assert.equal(inv.output, "wide");
    assert.equal(inv.kubeconfig, "/k");
    assert.equal(inv.selector, "a=b");
    const watch = parseCommandLine(["watch", "--no-initial", "--checkpoint=/c", "-n", "ns", "-o", "json", "--", "-x"]);
    assert.deepEqual([watch.noInitial, watch.checkpoint, watch.namespace, watch.output], [true, "/c", "ns", "json"]);
    assert.deepEqual(watch.args, ["-x"]);
    assert.equal(parseCommandLine([]).command, undefined);
    assert.equal(parseCommandLine(["--help"]).help, true);
  });

  it("rejects what a command does not take, naming the command", () => {
    const cases: [string[], string, string | undefined][] = [
      [["bogus"], 'unknown command "bogus": use watch, kinds, get, gateway, operator, export or rbac', undefined],
      [["-A"], "-A needs a command: watch, kinds, get, gateway, operator or rbac", undefined],
      [["get", "--counts"], "kindwatch get takes no flag --counts", "get"],
      [["kinds", "-A"], "kindwatch kinds takes no flag -A", "kinds"],
      [["kinds", "--nope"], "unknown flag --nope", "kinds"],
      [["watch", "--checkpoint"], "flag --checkpoint needs a value", "watch"],
      [
        ["watch", "--progress=yes"],
        'invalid argument "yes" for "--progress" flag: strconv.ParseBool: parsing "yes": invalid syntax',
        "watch",
      ],
      [["watch", "-o", "name"], "kindwatch watch cannot print -o name: use one of json, yaml", "watch"],
      [["get", "-n", "a", "-A"], "pass either -n/--namespace or -A/--all-namespaces, not both", "get"],
    ];
    for (const [argv, message, command] of cases) {
      assert.throws(
        () => parseCommandLine(argv),
        (err: unknown) => err instanceof UsageError && err.message === message && err.command === command,
        argv.join(" "),
      );
    }
  });
});

describe("cli: what changed, in one line", () => {
  const before = { metadata: { labels: { app: "x" }, resourceVersion: "1" }, spec: { size: 3, tags: ["a"] } };
  const after = {
    metadata: { labels: { tier: "web" }, resourceVersion: "2" },
    spec: { size: 5, tags: ["a", "b"], color: "a very long colour name that goes on" },
  };

  it("reads the paths changedPaths writes", () => {
    assert.deepEqual(valueAt({ a: [{ "b.c": 1 }] }, 'a[0]["b.c"]'), { found: true, value: 1 });
    assert.deepEqual(valueAt({ a: [] }, "a[0]"), { found: false });
    assert.deepEqual(valueAt({ a: null }, "a.b"), { found: false });
  });

  it("shows added and removed fields, scalars as old→new, and leaves out metadata. and bookkeeping", () => {
    assert.equal(describePath("metadata.labels.app", before, after), "-labels.app");
    assert.equal(describePath("metadata.labels.tier", before, after), "+labels.tier");
    assert.equal(describePath("spec.size", before, after), "spec.size: 3→5");
    assert.equal(describePath("spec.tags", before, after), "spec.tags");
    assert.equal(
      describePath("spec.color", { spec: { color: "red" } }, after),
      'spec.color: "red"→"a very long colour nam…',
    );
    const event = {
      old: before,
      object: after,
      changedPaths: ["metadata.labels.app", "metadata.labels.tier", "metadata.resourceVersion", "spec.size"],
    } as unknown as ObjectEvent;
    assert.deepEqual(changeParts(event), ["-labels.app", "+labels.tier", "spec.size: 3→5"]);
    const onlyBookkeeping = { ...event, changedPaths: ["metadata.resourceVersion"] } as ObjectEvent;
    assert.deepEqual(changeParts(onlyBookkeeping), ['resourceVersion: "1"→"2"']);
  });

  it("fits a line, ending with how many more there were", () => {
    assert.equal(fitParts(["aaaa", "bbbb", "cccc"], 100), "aaaa, bbbb, cccc");
    assert.equal(fitParts(["aaaa", "bbbb", "cccc"], 16), "aaaa, bbbb, cccc");
    assert.equal(fitParts(["aaaa", "bbbb", "cccc"], 15), "aaaa +2 more");
    assert.equal(fitParts(["a-very-long-part"], 5), "a-very-long-part");
    assert.equal(fitParts([], 10), "");
  });

  it("summarizes each event type", () => {
    const base = { object: after, origin: "live", namespace: "", name: "x" };
    assert.equal(summarize({ ...base, type: "ADDED" } as unknown as ObjectEvent, 80), "");
    assert.equal(
      summarize({ ...base, type: "DELETED", finalStateUnknown: true } as unknown as ObjectEvent, 80),
      "(final state unknown)",
    );
    assert.equal(
      summarize({ ...base, type: "MODIFIED", old: before, changedPaths: ["spec.size"] } as unknown as ObjectEvent, 80),
      "spec.size: 3→5",
    );
  });
});

describe("cli: event lines for programs", () => {
  it("puts the envelope first, changedPaths only on MODIFIED, and kind events with their type", () => {
    const info = { group: "example.com", version: "v1", kind: "Widget", resource: "widgets", namespaced: true };
    const object = { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "a" } };
    const modified = eventJson({
      ...info,
      type: "MODIFIED",
      origin: "live",
      namespace: "ns",
      name: "a",
      resourceVersion: "7",
      object,
      old: object,
      changedPaths: ["spec.x"],
    });
    assert.deepEqual(Object.keys(modified), [
      "type",
      "origin",
      "group",
      "version",
      "kind",
      "namespace",
      "name",
      "resourceVersion",
      "changedPaths",
      "object",
    ]);
    const deleted = eventJson({
      ...info,
      type: "DELETED",
      origin: "relist",
      namespace: "ns",
      name: "a",
      resourceVersion: "7",
      object,
      finalStateUnknown: true,
    });
    assert.equal(deleted.finalStateUnknown, true);
    assert.equal("changedPaths" in deleted, false);
    assert.deepEqual(eventJson({ ...info, type: "KIND_QUARANTINED", reason: "forbidden: no" }), {
      type: "KIND_QUARANTINED",
      ...info,
      reason: "forbidden: no",
    });
    assert.equal(kindLabel(info), "Widget.example.com");
    assert.equal(kindLabel({ group: "apps", kind: "Deployment" }), "Deployment");
  });

  it("sorts keys as kubectl prints them, and quotes YAML 1.1 look-alikes", async () => {
    assert.equal(JSON.stringify(sortedKeys({ b: 1, a: [{ d: 1, c: 2 }] })), '{"a":[{"c":2,"d":1}],"b":1}');
    assert.equal(
      (await yamlPrinter())({ at: "2025-01-01T00:00:00Z", flag: "yes", list: ["a"] }),
      'at: "2025-01-01T00:00:00Z"\nflag: "yes"\nlist:\n- a\n',
    );
  });
});

describe("cli: error messages", () => {
  const config = {
    server: "https://10.0.0.1:6443",
    auth: staticAuth({ token: "t" }, "bearer token"),
    source: 'context "dev" in /home/me/.kube/config',
  } as unknown as ClusterConfig;

  it("says what to check when the server cannot be reached or the credentials are rejected", () => {
    const refused = new ApiError({
      kind: "Network",
      status: 0,
      message: "GET /api: no response",
      request: "GET /api",
      cause: Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }),
    });
    assert.equal(
      failureMessage(refused, config),
      "cannot reach https://10.0.0.1:6443 (connection refused): is the cluster running? check --kubeconfig/--context",
    );
    const timeout = new ApiError({ kind: "Timeout", status: 0, message: "GET /api: timed out", request: "GET /api" });
    assert.equal(
      failureMessage(timeout, config),
      "https://10.0.0.1:6443 did not answer in time: is the cluster running? check --kubeconfig/--context",
    );
    const tls = new ApiError({
      kind: "Network",
      status: 0,
      message:
        "GET /api: TLS verification of https://10.0.0.1:6443 failed (x); check the cluster's certificate-authority",
      request: "GET /api",
    });
    assert.equal(
      failureMessage(tls, config),
      "TLS verification of https://10.0.0.1:6443 failed (x); check the cluster's certificate-authority",
    );
    const unauthorized = new ApiError({ kind: "Unauthorized", status: 401, message: "Unauthorized" });
    assert.equal(
      failureMessage(unauthorized, config),
      'unauthorized: https://10.0.0.1:6443 rejected the bearer token of context "dev" in /home/me/.kube/config (401); the credentials are expired or invalid: renew them, or check --kubeconfig/--context',
    );
  });

  it("passes the server's own words on, and config and CLI errors as they are", () => {
    const forbidden = new ApiError({
      kind: "Forbidden",
      status: 403,
      message: 'widgets.example.com is forbidden: User "bob" cannot list resource "widgets"',
      request: "GET /apis/example.com/v1/widgets",
    });
    assert.equal(
      failureMessage(forbidden),
      'widgets.example.com is forbidden: User "bob" cannot list resource "widgets"',
    );
    assert.equal(failureMessage(new ConfigError("kubeconfig x does not exist")), "kubeconfig x does not exist");
    assert.equal(failureMessage(new CliError("done")), "done");
    assert.equal(failureMessage("odd"), "odd");
    assert.equal(
      unknownKindMessage("widgts", ["widgets.example.com", "widgets.other.io"]),
      'unknown kind "widgts"; did you mean: widgets.example.com, widgets.other.io?',
    );
    assert.equal(
      unknownKindMessage("zz", []),
      `unknown kind "zz"; 'kindwatch kinds' lists the kinds the server serves`,
    );
  });
});

describe("cli: colours and progress", () => {
  it("colours only a terminal, or when forced, and never with NO_COLOR or TERM=dumb", () => {
    assert.equal(styleFor({ isTTY: true }, {}).enabled, true);
    assert.equal(styleFor({ isTTY: false }, {}).enabled, false);
    assert.equal(styleFor({}, { FORCE_COLOR: "1" }).enabled, true);
    assert.equal(styleFor({}, { FORCE_COLOR: "0" }).enabled, false);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: "1" }).enabled, false);
    assert.equal(styleFor({ isTTY: true }, { NO_COLOR: "" }).enabled, true);
    assert.equal(styleFor({ isTTY: true }, { TERM: "dumb" }).enabled, false);
    assert.equal(styleFor({}, {}).red("x"), "x");
    assert.equal(styleFor({ isTTY: true }, {}).red("x"), "\x1b[31mx\x1b[39m");
  });

  function sink(): { stream: Writable; text: () => string } {
    let text = "";
    const stream = new Writable({
      write(chunk, _enc, done) {
        text += String(chunk);
        done();
      },
    });
    return { stream, text: () => text };
  }

  it("redraws one line on a terminal, and clears it before other output", () => {
    const out = sink();
    const line = new ProgressLine(out.stream, true);
    line.update("1 of 3");
    line.update("1 of 3");
    line.update("2 of 3");
    line.clear();
    line.clear();
    line.finish("done");
    line.update("ignored");
    assert.equal(out.text(), "\r\x1b[2K1 of 3\r\x1b[2K2 of 3\r\x1b[2Kdone\n");
    assert.equal(line.done, true);
  });

  it("tells of a lost connection once for all kinds, counts down to their first retry, and tells when it is back", () => {
    const server = "https://10.0.0.1:6443";
    const cause = Object.assign(new Error("connect ECONNREFUSED 10.0.0.1:6443"), { code: "ECONNREFUSED" });
    const refused = new ApiError({ kind: "Network", status: 0, message: "GET /api: no response", cause });
    const forbidden = new ApiError({ kind: "Forbidden", status: 403, message: "forbidden" });
    assert.equal(
      connectionTrouble(
        [{ consecutiveErrors: 0 }, { consecutiveErrors: 3, lastError: forbidden, nextRetryAt: 900 }],
        0,
      ),
      undefined,
      "a server that answers, even no, is reached",
    );
    const trouble = connectionTrouble(
      [
        { consecutiveErrors: 0 },
        { consecutiveErrors: 2, lastError: refused, nextRetryAt: 3100 },
        { consecutiveErrors: 1, lastError: refused, nextRetryAt: 2000 },
      ],
      1000,
    );
    assert.deepEqual(trouble, { kinds: 2, why: "connection refused", retryInMs: 1000 });
    if (!trouble) return;
    assert.equal(
      retryCountdown(server, trouble),
      `no connection to ${server} (connection refused): retrying 2 kinds in 1.0 s`,
    );
    assert.equal(
      retryCountdown(server, { ...trouble, kinds: 1, retryInMs: 0 }),
      `no connection to ${server} (connection refused): retrying 1 kind now`,
    );

    const report = new ConnectionReport(server);
    assert.equal(report.observe(undefined, 0), undefined);
    assert.equal(report.observe(trouble, 1000), `lost the connection to ${server} (connection refused); retrying`);
    assert.equal(report.observe(trouble, 5000), undefined, "said once, however long it lasts");
    assert.equal(report.lost, true);
    assert.equal(report.observe(undefined, 21_300), `reconnected to ${server} after 20.3 s`);
    assert.equal(report.observe(undefined, 22_000), undefined);
    assert.equal(report.lost, false);
  });

  it("prints a line per change elsewhere, at most one a second", () => {
    const out = sink();
    const line = new ProgressLine(out.stream, false, 1000);
    line.update("a", 10_000);
    line.update("b", 10_500);
    line.update("c", 11_000);
    line.update("c", 12_500);
    line.finish("done");
    assert.equal(out.text(), "a\nc\ndone\n");
  });
});

describe("cli: watch lines for people", () => {
  const info = { group: "example.com", version: "v1", kind: "Widget", resource: "widgets", namespaced: true };
  const at = new Date(2025, 0, 1, 9, 5, 7);
  const event = (type: ObjectEvent["type"], extra: Partial<ObjectEvent> = {}): ObjectEvent => ({
    ...info,
    type,
    origin: "live",
    namespace: "ns",
    name: "w",
    resourceVersion: "1",
    object: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 2 } },
    ...extra,
  });

  it("prints time, event, kind, namespace/name and what changed, with the origin when not live", () => {
    const lines = new HumanLines(styleFor({}, {}));
    assert.equal(
      lines.line(event("ADDED", { origin: "initial" }), 200, at),
      "09:05:07  ADDED     Widget.example.com  ns/w  (initial)",
    );
    const modified = event("MODIFIED", {
      old: { apiVersion: "example.com/v1", kind: "Widget", metadata: { name: "w" }, spec: { size: 1 } },
      changedPaths: ["spec.size"],
    });
    assert.equal(lines.line(modified, 200, at), "09:05:07  MODIFIED  Widget.example.com  ns/w  spec.size: 1→2");
    assert.equal(
      lines.line(event("DELETED", { namespace: "", finalStateUnknown: true, origin: "relist" }), 200, at),
      "09:05:07  DELETED   Widget.example.com  w  (final state unknown) (relist)",
    );
    const coloured = new HumanLines(styleFor({ isTTY: true }, {})).line(event("DELETED"), 200, at);
    assert.equal(coloured, "\x1b[2m09:05:07\x1b[22m  \x1b[31mDELETED \x1b[39m  Widget.example.com  ns/w");
  });

  it("tells of quarantines, removals and version moves, and of new kinds once the initial lists are in", () => {
    const plain = styleFor({}, {});
    const kind = (type: KindEvent["type"], extra: Partial<KindEvent> = {}): KindEvent => ({ ...info, type, ...extra });
    assert.equal(
      kindNotice(kind("KIND_QUARANTINED", { reason: "forbidden: cannot list widgets.example.com" }), plain, false),
      "quarantined Widget.example.com: forbidden: cannot list widgets.example.com (retrying)",
    );
    assert.equal(
      kindNotice(kind("KIND_REMOVED", { reason: "no longer served" }), plain, true),
      "removed Widget.example.com: no longer served",
    );
    assert.equal(
      kindNotice(kind("KIND_VERSION_CHANGED", { version: "v2", previousVersion: "v1" }), plain, true),
      "version changed Widget.example.com: now v2 (was v1)",
    );
    assert.equal(kindNotice(kind("KIND_ADDED"), plain, false), undefined);
    assert.equal(kindNotice(kind("KIND_ADDED"), plain, true), "watching Widget.example.com (new kind)");
    assert.equal(kindNotice(kind("KIND_SYNCED"), plain, true), undefined);
  });

  it("gives up when every kind selected is forbidden, and only then", () => {
    const forbidden = new ApiError({ kind: "Forbidden", status: 403, message: "forbidden" });
    const denied = (resource: string) => ({
      state: "quarantined",
      reason: `forbidden: cannot list ${resource} in all namespaces`,
      lastError: forbidden,
    });
    assert.equal(
      noKindAllowed([denied("widgets.example.com"), denied("gadgets.example.com"), denied("gizmos.example.com")]),
      "you may not list and watch any of the 3 kinds selected (forbidden: cannot list widgets.example.com in all " +
        "namespaces; and 2 more kinds): ask for list and watch rights on them, or name kinds you may read " +
        "(kindwatch watch KIND...)",
    );
    assert.match(
      noKindAllowed([denied("widgets.example.com")]) ?? "",
      /^you may not list and watch any of the 1 kind selected \(forbidden: cannot list widgets\.example\.com in all namespaces\): /,
    );
    assert.equal(noKindAllowed([denied("a"), { state: "synced" }]), undefined, "one kind is watched");
    assert.equal(noKindAllowed([denied("a"), { state: "syncing" }]), undefined, "one kind may still list");
    const broken = {
      state: "quarantined",
      lastError: new ApiError({ kind: "InternalError", status: 500, message: "x" }),
    };
    assert.equal(noKindAllowed([denied("a"), broken]), undefined, "a kind that fails otherwise may recover");
    assert.equal(noKindAllowed([]), undefined, "no kind selected");
  });

  it("reports the initial lists: kinds synced of kinds found, settled once all are synced or quarantined", () => {
    const k = (state: string, objects = 0) => ({ state, objects });
    assert.deepEqual(syncReport([k("synced", 3), k("syncing")], true, 100), {
      settled: false,
      text: "syncing kinds: 1 of 2 synced, 3 objects",
    });
    assert.deepEqual(syncReport([], false, 100), { settled: false, text: "finding kinds" }, "discovery not read yet");
    assert.deepEqual(syncReport([k("synced", 1), k("quarantined")], true, 2345), {
      settled: true,
      text: "watching 2 kinds (1 synced, 1 quarantined), 1 object listed in 2.3s",
    });
    assert.deepEqual(syncReport([], true, 50), {
      settled: true,
      text: "watching 0 kinds (0 synced), 0 objects listed in 0.1s",
    });
  });
});

describe("cli: kubectl's get and api-resources flags on the command line", () => {
  it("takes repeatable, comma-separated lists, --flag=BOOL, templated outputs and -o=FORMAT", () => {
    const get = parseCommandLine(["get", "pods", "-L", "app,tier", "--label-columns=zone", "--sort-by=.a", "-w"]);
    assert.deepEqual(get.labelColumns, ["app", "tier", "zone"]);
    assert.equal(get.sortBy, ".a");
    assert.equal(get.watch, true);
    assert.equal(parseCommandLine(["get", "pods", "-o=json"]).output, "json");
    assert.equal(parseCommandLine(["get", "pods", "-o", "jsonpath={.a}"]).output, "jsonpath={.a}");
    assert.equal(parseCommandLine(["get", "pods", "--show-labels=true"]).showLabels, true);
    assert.equal(parseCommandLine(["get", "pods", "--show-labels=false"]).showLabels, false);
    const kinds = parseCommandLine(["kinds", "--api-group=", "--verbs=list", "--verbs", "watch,get"]);
    assert.deepEqual([kinds.apiGroup, kinds.verbs, kinds.namespaced], ["", ["list", "watch", "get"], undefined]);
    assert.equal(parseCommandLine(["kinds", "--namespaced"]).namespaced, true);
    assert.equal(parseCommandLine(["kinds", "--namespaced=false"]).namespaced, false);
    assert.equal(parseCommandLine(["kinds", "--namespaced=F"]).namespaced, false);
  });

  it("refuses what kubectl refuses", () => {
    const cases: [string[], string][] = [
      [["get", "pods", "--show-labels", "-o", "json"], "--show-labels option cannot be used with json printer"],
      [["get", "pods", "-o", "custom-columns="], "custom-columns format specified but no custom columns given"],
      [["get", "pods", "-o", "jsonpath"], "template format specified but no template given"],
      [["get", "pods", "-w", "--watch-only"], "pass either -w/--watch or --watch-only, not both"],
      [
        ["kinds", "--namespaced=maybe"],
        'invalid argument "maybe" for "--namespaced" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
      ],
      [["kinds", "-w"], "kindwatch kinds takes no flag -w"],
      [
        ["get", "pods", "-o", "go-template={{.a}}"],
        "kindwatch get cannot print -o go-template={{.a}}: use one of wide, name, json, yaml, jsonpath=, jsonpath-file=, custom-columns=, custom-columns-file=",
      ],
    ];
    for (const [argv, message] of cases) {
      assert.throws(
        () => parseCommandLine(argv),
        (err) => err instanceof UsageError && err.message === message,
        argv.join(" "),
      );
    }
  });
});
