/**
 * `kindwatch get` next to `kubectl get` on the same objects: the same header line, the same rows (AGE aside, as the two
 * run a moment apart), the same names, and byte for byte the same JSON and YAML.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { parse } from "yaml";
import { type CliResult, runCli } from "../support/cli.js";
import { type ClientEnv, clientEnv, createWidgetCrd, type WidgetKind } from "../support/client.js";
import { kubectl } from "../support/kubectl.js";
import { uniqueName } from "../support/wait.js";

/** A table without its AGE cells, the last of each line (ages differ by the second between two runs). */
function withoutAge(text: string): string[] {
  return text
    .trimEnd()
    .split("\n")
    .map((line) => line.replace(/\s+\S+$/, ""));
}

describe("kindwatch get, side by side with kubectl get", () => {
  let env: ClientEnv;
  let kind: WidgetKind;
  let admin: string;
  let widgets: string;
  let label: string;

  const ours = async (args: string[]): Promise<CliResult> => runCli(["get", ...args], { kubeconfig: admin });
  const theirs = async (args: string[]): Promise<string> => (await kubectl(admin, ["get", ...args])).stdout;

  before(async () => {
    env = await clientEnv("cli-get");
    admin = env.cluster.kubeconfigPath;
    kind = await createWidgetCrd(env.client);
    widgets = `widgets.${kind.group}`;
    label = uniqueName("cli-get");
    const manifest = [
      `apiVersion: ${kind.apiVersion}\nkind: Widget\nmetadata: {name: alpha}\nspec: {replicas: 2, color: red}`,
      `apiVersion: ${kind.apiVersion}\nkind: Widget\nmetadata: {name: beta-with-a-longer-name}\nspec: {replicas: 10}`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: one, labels: {mark: ${label}}}\ndata: {a: "1"}`,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two, labels: {mark: ${label}}}\ndata: {a: "1", b: "2"}`,
    ].join("\n---\n");
    await kubectl(admin, ["-n", env.namespace, "create", "-f", "-"], { input: manifest });
  });

  after(async () => {
    await kind?.remove();
    await env?.close();
  });

  it("prints the columns kubectl prints: custom printer columns, -o wide, built-in kinds, -A", async () => {
    const ns = ["-n", env.namespace];
    const cases = [
      [widgets, ...ns],
      [widgets, "-o", "wide", ...ns],
      [widgets, "alpha", ...ns],
      ["configmaps", "-l", `mark=${label}`, ...ns],
      ["cm", "-A", "-l", `mark=${label}`],
      ["namespaces", env.namespace],
      [`${widgets},cm`, "-l", `mark=${label}`, ...ns],
      [`${widgets}/alpha`, "configmap/one", ...ns],
      [widgets, "--no-headers", ...ns],
    ];
    const printed: string[] = [];
    for (const args of cases) {
      const [res, expected] = await Promise.all([ours(args), theirs(args)]);
      assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
      assert.deepEqual(withoutAge(res.stdout), withoutAge(expected), args.join(" "));
      printed.push(res.stdout);
    }
    assert.match(printed[0] ?? "", /^NAME +REPLICAS +PHASE +AGE\nalpha +2 +\S+\nbeta-with-a-longer-name +10 +\S+\n$/);
    assert.match(printed[1] ?? "", /^NAME +REPLICAS +PHASE +COLOR +AGE\nalpha +2 +red +\S+\n/);
    assert.match(printed[4] ?? "", /^NAMESPACE +NAME +DATA +AGE\n/);
  });

  it("takes short names in any case, printing what kubectl prints for the short name as registered", async () => {
    // kubectl matches short names case-sensitively (`kubectl get CM` is an error); kindwatch, like for every other
    // name, ignores case.
    const ns = ["-n", env.namespace];
    const cases = [
      ["CM", "-l", `mark=${label}`, ...ns],
      ["Cm", "-l", `mark=${label}`, "-o", "name", ...ns],
      ["CM/one", "-o", "name", ...ns],
      ["CM.V1.", "two", "-o", "yaml", ...ns],
    ];
    for (const [typed = "", ...rest] of cases) {
      const [res, expected] = await Promise.all([ours([typed, ...rest]), theirs([typed.toLowerCase(), ...rest])]);
      assert.equal(res.code, 0, `${typed}: ${res.stderr}`);
      assert.deepEqual(withoutAge(res.stdout), withoutAge(expected), typed);
    }
    const names = await ours(["CM", "-l", `mark=${label}`, "-o", "name", ...ns]);
    assert.equal(names.stdout, "configmap/one\nconfigmap/two\n");
  });

  it("prints names, JSON and YAML exactly as kubectl does", async () => {
    const ns = ["-n", env.namespace];
    const cases = [
      [widgets, "-o", "name", ...ns],
      [`${widgets},cm`, "-l", `mark=${label}`, "-o", "name", ...ns],
      [widgets, "alpha", "-o", "json", ...ns],
      [widgets, "-o", "json", ...ns],
      ["cm", "-l", `mark=${label}`, "-o", "yaml", ...ns],
      ["cm", "one", "-o", "yaml", ...ns],
    ];
    for (const args of cases) {
      const [res, expected] = await Promise.all([ours(args), theirs(args)]);
      assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
      assert.equal(res.stdout, expected, args.join(" "));
    }
    const list = parse((await ours(["cm", "-l", `mark=${label}`, "-o", "yaml", ...ns])).stdout) as {
      kind: string;
      items: { apiVersion: string; kind: string; metadata: { name: string; managedFields?: unknown } }[];
    };
    assert.equal(list.kind, "List");
    assert.deepEqual(
      list.items.map((i) => [i.apiVersion, i.kind, i.metadata.name, i.metadata.managedFields]),
      [
        ["v1", "ConfigMap", "one", undefined],
        ["v1", "ConfigMap", "two", undefined],
      ],
    );
  });

  it("reports missing names on stderr with exit 1, after printing the ones found; nothing found is not an error", async () => {
    const res = await ours([widgets, "alpha", "nope", "-n", env.namespace]);
    assert.equal(res.code, 1);
    assert.match(res.stdout, /^NAME +REPLICAS +PHASE +AGE\nalpha +2 +\S+\n$/);
    assert.equal(res.stderr, `error: ${widgets} "nope" not found\n`);

    const none = await ours(["configmaps", "-l", "nothing=here", "-n", env.namespace]);
    assert.equal(none.code, 0);
    assert.equal(none.stdout, "");
    assert.equal(none.stderr, `No resources found in ${env.namespace} namespace.\n`);
    const noneAll = await ours(["configmaps", "-l", "nothing=here", "-A"]);
    assert.equal(noneAll.stderr, "No resources found\n");
  });
});
