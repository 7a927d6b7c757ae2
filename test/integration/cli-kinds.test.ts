/**
 * `kindwatch kinds` against the server's discovery as an independent client, kubectl, sees it: the same kinds, custom
 * ones marked, and object counts that match what kubectl made (a dash where the user may not list).
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isBuiltinGroup } from "../../src/discovery/snapshot-mapper.js";
import { parseTable, runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { kubectl } from "../support/kubectl.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** A row of `kindwatch kinds -o json`. */
interface KindRow {
  name: string;
  shortNames: string[];
  apiVersion: string;
  group: string;
  namespaced: boolean;
  kind: string;
  custom: boolean;
  verbs: string[];
  count?: number;
  countError?: string;
}

describe("kindwatch kinds", () => {
  let env: ClientEnv;
  let admin: string;
  let crd: CrdSpec;

  const kinds = async (args: string[], kubeconfig = admin): Promise<KindRow[]> => {
    const res = await runCli(["kinds", "-o", "json", ...args], { kubeconfig });
    assert.equal(res.code, 0, res.stderr);
    return JSON.parse(res.stdout) as KindRow[];
  };
  const flanges = (rows: KindRow[]) => rows.find((r) => r.group === crd.group && r.name === "flanges");

  before(async () => {
    env = await clientEnv("cli-kinds");
    admin = env.cluster.kubeconfigPath;
    crd = {
      group: `${uniqueName("k")}.kindwatch.dev`,
      kind: "Flange",
      plural: "flanges",
      shortNames: ["flg"],
      versions: [{ name: "v1", storage: true }],
    };
    await createCrd(env.transport, crd);
    await waitFor("flanges to be served", () =>
      env.transport.json({ path: `/apis/${crd.group}/v1/flanges` }).then(() => true),
    );
    const manifest = ["a", "b", "c"]
      .map((n) => `apiVersion: ${crd.group}/v1\nkind: Flange\nmetadata: {name: ${n}, labels: {odd: "${n !== "b"}"}}`)
      .join("\n---\n");
    await kubectl(admin, ["-n", env.namespace, "create", "-f", "-"], { input: manifest });
  });

  after(async () => {
    await deleteCrd(env.transport, crd).catch(() => {});
    await env?.close();
  });

  it("lists what kubectl api-resources lists, with the same header, custom kinds marked", async () => {
    const ours = await kinds([]);
    const theirs = (await kubectl(admin, ["api-resources", "-o", "name"])).stdout.trim().split("\n");
    const name = (r: KindRow) => (r.group ? `${r.name}.${r.group}` : r.name);
    // Other test files add and remove CRDs meanwhile: Kubernetes' own kinds and ours are what both must agree on.
    const groupOf = (n: string) => n.split(".").slice(1).join(".");
    const builtin = (names: string[]) => names.filter((n) => isBuiltinGroup(groupOf(n))).sort();
    assert.deepEqual(builtin(ours.map(name)), builtin(theirs));
    assert.ok(theirs.includes(`flanges.${crd.group}`));
    assert.deepEqual(flanges(ours), {
      name: "flanges",
      shortNames: ["flg"],
      apiVersion: `${crd.group}/v1`,
      group: crd.group,
      version: "v1",
      namespaced: true,
      kind: "Flange",
      custom: true,
      verbs: ["delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"],
      categories: [],
    });
    const deployments = ours.find((r) => r.name === "deployments" && r.group === "apps");
    assert.equal(deployments?.custom, false);
    assert.deepEqual(deployments?.shortNames, ["deploy"]);
    assert.ok(ours.every((r) => r.custom === !isBuiltinGroup(r.group)));

    const human = await runCli(["kinds"], { kubeconfig: admin });
    assert.equal(human.code, 0, human.stderr);
    const kubectlHuman = await kubectl(admin, ["api-resources"]);
    const header = (text: string) => parseTable(text).header.trim().split(/\s+/);
    assert.deepEqual(header(human.stdout), [...header(kubectlHuman.stdout), "CUSTOM"]);
    const row = parseTable(human.stdout).rows.find((r) => r[0] === "flanges" && r[2] === `${crd.group}/v1`);
    assert.deepEqual(row, ["flanges", "flg", `${crd.group}/v1`, "true", "Flange", "true"]);
    // kubectl's order: by group, then by name.
    const order = ours.map((r) => `${r.group} ${r.name}`);
    assert.deepEqual(order, [...order].sort());
  });

  it("--counts counts the objects kubectl made, with and without selectors, and 0 where there are none", async () => {
    const all = await kinds(["--counts", "--custom"]);
    assert.equal(flanges(all)?.count, 3);
    assert.ok(all.every((r) => r.custom));
    assert.equal(
      (await kinds(["--counts", "--custom", "-l", "odd=true"])).find(
        (r) => r.name === "flanges" && r.group === crd.group,
      )?.count,
      2,
    );
    assert.equal(flanges(await kinds(["--counts", "--custom", "--field-selector", "metadata.name=b"]))?.count, 1);
    assert.equal(flanges(await kinds(["--counts", "--custom", "-n", "default"]))?.count, 0);

    const human = await runCli(["kinds", "--counts", "--custom"], { kubeconfig: admin });
    const { header, rows } = parseTable(human.stdout);
    assert.match(header, /CUSTOM +COUNT$/);
    assert.equal(rows.find((r) => r[0] === "flanges" && r[2] === `${crd.group}/v1`)?.at(-1), "3");
  });

  it("--counts shows '-' for kinds the user may not list", async () => {
    const user = await env.cluster.user(uniqueName("cli-kinds-user"));
    const rows = await kinds(["--counts", "--custom"], user.kubeconfigPath);
    assert.equal(flanges(rows)?.countError, "forbidden");
    assert.equal(flanges(rows)?.count, undefined);
    const human = await runCli(["kinds", "--counts", "--custom"], { kubeconfig: user.kubeconfigPath });
    assert.equal(human.code, 0, human.stderr);
    assert.equal(
      parseTable(human.stdout)
        .rows.find((r) => r[0] === "flanges" && r[2] === `${crd.group}/v1`)
        ?.at(-1),
      "-",
    );
  });

  it("--api-group, --namespaced and --verbs select what kubectl api-resources selects, printed the same", async () => {
    /** Our table without its CUSTOM column, which kubectl does not have: the rest must be kubectl's, byte for byte. */
    const withoutCustom = (text: string) => {
      const [header = ""] = text.split("\n");
      const start = header.indexOf("CUSTOM");
      const next = header.indexOf(" ", start) < 0 ? -1 : header.slice(start).search(/ [^ ]/);
      // Without -o wide CUSTOM is our last column, and KIND, last in kubectl's table, is not padded there.
      const cut = (line: string) =>
        next < 0 ? line.slice(0, start).trimEnd() : line.slice(0, start) + line.slice(start + next + 1);
      return text.split("\n").map(cut).join("\n");
    };
    const cases = [
      ["--api-group=apps"],
      ["--api-group", "apps", "-o", "wide"],
      ["--api-group="],
      ["--api-group=rbac.authorization.k8s.io", "--namespaced=false"],
      ["--api-group=rbac.authorization.k8s.io", "--namespaced"],
      ["--api-group=rbac.authorization.k8s.io", "--namespaced=true", "-o", "wide"],
      ["--api-group=", "--verbs=list,watch", "--verbs", "create", "-o", "wide"],
      ["--api-group=", "--verbs=get", "--namespaced=false"],
      [`--api-group=${crd.group}`, "-o", "wide"],
      [`--api-group=${crd.group}`, "--verbs=list"],
      ["--api-group=no.such.group"],
      ["--api-group=apps", "--verbs=proxy"],
    ];
    for (const args of cases) {
      const [ours, theirs] = await Promise.all([
        runCli(["kinds", ...args], { kubeconfig: admin }),
        kubectl(admin, ["api-resources", ...args]),
      ]);
      assert.equal(ours.code, 0, `${args.join(" ")}: ${ours.stderr}`);
      assert.equal(withoutCustom(ours.stdout), theirs.stdout, args.join(" "));
    }
    const names = await runCli(["kinds", "-o", "name", "--api-group=apps", "--verbs=watch"], { kubeconfig: admin });
    assert.equal(
      names.stdout,
      (await kubectl(admin, ["api-resources", "-o", "name", "--api-group=apps", "--verbs=watch"])).stdout,
    );
    const flange = (await kinds([`--api-group=${crd.group}`, "--namespaced=false"])).length;
    assert.equal(flange, 0, "flanges are namespaced");
    const bad = await runCli(["kinds", "--namespaced=maybe"], { kubeconfig: admin });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /invalid argument "maybe" for "--namespaced" flag/);
  });

  it("-o name prints resource.group as kubectl api-resources -o name does", async () => {
    const res = await runCli(["kinds", "-o", "name", "--custom"], { kubeconfig: admin });
    assert.equal(res.code, 0, res.stderr);
    assert.ok(res.stdout.split("\n").includes(`flanges.${crd.group}`));
  });
});
