/**
 * kubectl's daily `get` flags next to kubectl 1.35 on the same objects: -o jsonpath, -o custom-columns (and their
 * -file forms), --show-labels, -L, --sort-by and --ignore-not-found. The Gizmo kind has no AGE column, so its tables
 * compare byte for byte; so do stderr and the exit status wherever kubectl's are not its own log format.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { kubectl } from "../support/kubectl.js";
import { runKubectl } from "../support/kubectl-process.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** How a run ended; kubectl's exit status is 1 for any failure, ours 2 for a wrong command line: only success counts. */
interface Outcome {
  readonly stdout: string;
  readonly stderr: string;
  readonly ok: boolean;
}

/** A table with its AGE cells masked and runs of spaces collapsed: ages differ between two runs a moment apart. */
function masked(text: string): string {
  return text.replace(/\b(\d+[smhdy])+\b/g, "<age>").replace(/ +/g, " ");
}

describe("kindwatch get's kubectl flags, side by side with kubectl get", () => {
  let env: ClientEnv;
  let admin: string;
  let crd: CrdSpec;
  let gizmos: string;
  let dir: string;
  let ns: string[];

  const ours = async (args: readonly string[]): Promise<Outcome> => {
    const res = await runCli(["get", ...args], { kubeconfig: admin });
    return { stdout: res.stdout, stderr: res.stderr, ok: res.code === 0 };
  };
  const theirs = async (args: readonly string[]): Promise<Outcome> => {
    const res = await runKubectl(admin, ["get", ...args]);
    return { stdout: res.stdout, stderr: res.stderr, ok: res.code === 0 };
  };
  /** Runs each case through both and compares stdout byte for byte (and stderr and success unless told not to). */
  const same = async (cases: readonly (readonly string[])[], compare: "all" | "stdout" = "all") => {
    for (const args of cases) {
      const [a, b] = await Promise.all([ours(args), theirs(args)]);
      assert.equal(a.stdout, b.stdout, args.join(" "));
      if (compare === "all") {
        assert.equal(a.ok, b.ok, `${args.join(" ")}: ${a.stderr}`);
        // kubectl goes on to dump the object its JSONPath failed on; we stop after the template.
        if (!b.ok) {
          assert.ok(a.stderr && b.stderr.startsWith(a.stderr), `${args.join(" ")}: ${a.stderr} vs ${b.stderr}`);
        } else {
          assert.equal(a.stderr, b.stderr, args.join(" "));
        }
      }
    }
  };

  before(async () => {
    env = await clientEnv("cli-get-flags");
    admin = env.cluster.kubeconfigPath;
    ns = ["-n", env.namespace];
    dir = await mkdtemp(join(tmpdir(), "kindwatch-cli-get-flags-"));
    crd = {
      group: `${uniqueName("gz")}.kindwatch.dev`,
      kind: "Gizmo",
      plural: "gizmos",
      versions: [
        {
          name: "v1",
          storage: true,
          additionalPrinterColumns: [
            { name: "Size", type: "integer", jsonPath: ".spec.size" },
            { name: "Cpu", type: "string", jsonPath: ".spec.cpu", priority: 1 },
          ],
        },
      ],
    };
    await createCrd(env.transport, crd);
    gizmos = `gizmos.${crd.group}`;
    await waitFor("gizmos to be served", () =>
      env.transport.json({ path: `/apis/${crd.group}/v1/gizmos` }).then(() => true),
    );
    const gizmo = (name: string, labels: string, spec: string) =>
      `apiVersion: ${crd.group}/v1\nkind: Gizmo\nmetadata: {name: ${name}, labels: ${labels}}\nspec: ${spec}`;
    const manifest = [
      gizmo(
        "g1",
        "{team: a, tier: web, app.kubernetes.io/name: one}",
        '{size: 10, ratio: 1.5, cpu: "500m", name: "x<y", list: [1, "two", 3.5, true, null, {k: v}], items: [{name: a, v: 1}]}',
      ),
      gizmo("g2", "{team: b}", '{size: 9, ratio: 2, cpu: "2", items: [{name: a, v: 1}, {name: b, v: 2}]}'),
      gizmo("g3", "{}", '{size: 100, ratio: 0.5, cpu: "1500m", name: "aa"}'),
      gizmo("g10", "{team: a}", '{size: 9, cpu: "1"}'),
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web, labels: {app: web, tier: front}}\ndata: {a: "1"}`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: db, labels: {app: db}}\ndata: {a: "10"}`,
    ].join("\n---\n");
    await kubectl(admin, [...ns, "create", "-f", "-"], { input: manifest });
  });

  after(async () => {
    await deleteCrd(env.transport, crd).catch(() => {});
    await env?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("-o jsonpath prints what kubectl prints: lists, single objects, ranges, filters, literals, errors", async () => {
    await same([
      [gizmos, ...ns, "-o", "jsonpath={.items[*].metadata.name}"],
      [gizmos, ...ns, "-o", 'jsonpath={range .items[*]}{.metadata.name}{"\\t"}{.spec.size}{"\\n"}{end}'],
      [gizmos, "g1", ...ns, "-o", "jsonpath={.spec}"],
      [gizmos, "g1", ...ns, "-o", "jsonpath={.spec.list[*]} {.spec.ratio} {.metadata.labels}"],
      [gizmos, ...ns, "-o", 'jsonpath={.items[?(@.spec.size>9)].metadata.name}{"\\n"}'],
      [gizmos, ...ns, "-o", "jsonpath={.items[?(@.spec.cpu=='2')].spec.items[?(@.v>1)].name}"],
      [gizmos, ...ns, "-o", "jsonpath={.items[-1:].metadata.name},{.items[0:3:2].metadata.name}"],
      [gizmos, ...ns, "-o", "jsonpath={.items[*].metadata.managedFields[0].manager}"],
      [`${gizmos},cm`, ...ns, "-o", "jsonpath={range .items[*]}{.kind}/{.metadata.name} {end}"],
      ["cm", ...ns, "-l", "nothing=here", "-o", "jsonpath={.kind}:{.items}"],
      [gizmos, ...ns, "-o", "jsonpath={.items[?(@.spec.size==9.0)]}"],
      [gizmos, ...ns, "-o", "jsonpath={.items["],
    ]);
    const file = join(dir, "template.jsonpath");
    await writeFile(file, '{range .items[*]}{.metadata.name}={.spec.cpu}{"\\n"}{end}\n');
    await same([[gizmos, ...ns, "-o", `jsonpath-file=${file}`]]);
  });

  it("-o custom-columns prints kubectl's columns: Go's formatting of values, <none>, errors after the header", async () => {
    await same([
      [gizmos, ...ns, "-o", "custom-columns=NAME:.metadata.name,SIZE:spec.size,LIST:{.spec.list},NOPE:{.nope}"],
      [gizmos, ...ns, "-o", "custom-columns=N:.metadata.name,L:.metadata.labels,I:.spec.items[*].name"],
      [gizmos, "g1", ...ns, "-o", "custom-columns=NAME:.metadata.name,RATIO:.spec.ratio", "--no-headers"],
      [`${gizmos},cm`, ...ns, "-o", "custom-columns=KIND:.kind,NAME:.metadata.name"],
      ["cm", ...ns, "-l", "nothing=here", "-o", "custom-columns=NAME:.metadata.name"],
      [gizmos, ...ns, "-o", "custom-columns=A:.x["],
      [gizmos, ...ns, "-o", "custom-columns=A"],
      [gizmos, ...ns, "-o", "custom-columns=A:{.a}{.b}"],
    ]);
    const file = join(dir, "columns.txt");
    await writeFile(file, "NAME   SIZE        TEAM\n.metadata.name   {.spec.size}   metadata.labels.team\n");
    await same([[gizmos, ...ns, "-o", `custom-columns-file=${file}`]]);
  });

  it("--show-labels and -L add kubectl's label columns", async () => {
    await same([
      [gizmos, ...ns, "--show-labels"],
      [gizmos, ...ns, "-L", "team"],
      [gizmos, ...ns, "-L", "team,tier", "-L", "app.kubernetes.io/name", "--show-labels", "-o", "wide"],
      [gizmos, "g2", ...ns, "--label-columns=team", "--no-headers"],
    ]);
    for (const args of [
      [`${gizmos},cm`, ...ns, "-L", "app", "--show-labels"],
      ["cm", ...ns, "-L", "app", "--show-labels"],
      ["cm", "-A", "-l", "app", "-L", "tier"],
    ]) {
      const [a, b] = await Promise.all([ours(args), theirs(args)]);
      assert.equal(masked(a.stdout), masked(b.stdout), args.join(" "));
    }
    const refused = await ours([gizmos, ...ns, "--show-labels", "-o", "name"]);
    assert.equal(refused.stderr.split("\n")[0], "error: --show-labels option cannot be used with name printer");
  });

  it("--sort-by sorts as kubectl sorts: by type, quantities, missing values first; its failures as kubectl's", async () => {
    await same([
      [gizmos, ...ns, "--sort-by=.spec.size"],
      [gizmos, ...ns, "--sort-by={.spec.cpu}", "-o", "wide"],
      [gizmos, ...ns, "--sort-by=spec.name"],
      [gizmos, ...ns, "--sort-by=.metadata.labels.team", "-o", "name"],
      [gizmos, ...ns, "--sort-by=.spec.items[0].name", "-o", "custom-columns=N:.metadata.name"],
      [gizmos, ...ns, "--sort-by=.metadata.name", "-o", "jsonpath={.items[*].metadata.name}"],
      [gizmos, ...ns, "--sort-by={.metadata.name}{.kind}"],
      // Found in no object: kubectl's table printer drops the error and prints nothing; its other printers fail.
      [gizmos, ...ns, "--sort-by=.nope"],
      [gizmos, ...ns, "--sort-by=.nope", "-o", "name"],
      [gizmos, ...ns, "--sort-by={.metadata.name}{.kind}", "-o", "name"],
      [gizmos, "g1", ...ns, "--sort-by=.nope", "-o", "name"],
    ]);
    // ints and floats cannot be compared: kubectl exits 1 with a log line of its own; so do we, with ours.
    const [a, b] = await Promise.all([
      ours([gizmos, ...ns, "--sort-by=.spec.ratio"]),
      theirs([gizmos, ...ns, "--sort-by=.spec.ratio"]),
    ]);
    assert.equal(a.ok, false);
    assert.equal(b.ok, false);
    assert.match(
      a.stderr,
      /^error: Field \{\.spec\.ratio\} is an unsortable type: interface, err: unsortable interface: interface\n$/,
    );
    const sorted = await ours(["cm", ...ns, "--sort-by=.data.a", "-o", "name"]);
    assert.equal(sorted.stdout, "configmap/web\nconfigmap/db\n", "quantities: 1 before 10");
  });

  it("--ignore-not-found ends quietly where kubectl does", async () => {
    await same([
      [gizmos, "nope", ...ns, "--ignore-not-found"],
      [gizmos, "nope", "g1", ...ns, "--ignore-not-found"],
      [gizmos, "nope", "g1", ...ns, "--ignore-not-found", "-o", "name"],
      [gizmos, "nope", ...ns, "--ignore-not-found", "-o", "json"],
      [gizmos, ...ns, "-l", "nothing=here", "--ignore-not-found"],
      [gizmos, ...ns, "-l", "nothing=here", "--ignore-not-found", "-o", "json"],
      [gizmos, ...ns, "-l", "nothing=here", "-o", "json"],
    ]);
    const quiet = await ours([gizmos, ...ns, "-l", "nothing=here", "--ignore-not-found"]);
    assert.deepEqual(quiet, { stdout: "", stderr: "", ok: true });
    const loud = await ours([gizmos, "nope", ...ns]);
    assert.equal(loud.ok, false);
  });
});
