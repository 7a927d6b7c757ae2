/**
 * `kindwatch rbac` and `watchAllRules`: the rules are enough (a ServiceAccount bound only to them syncs every selected
 * kind, and the engine makes no request the server refuses) and no more (without any one of their verbs, resources
 * or URLs, the server refuses the engine something or a selected kind is quarantined). On a cluster of its own: the
 * default bindings system:discovery and system:basic-user let every authenticated user read discovery and create
 * access reviews, and this file deletes them so that nothing but the generated rules grants anything; on the shared
 * cluster that would break the other tests' users.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { loadAll } from "js-yaml";
import { DiscoveryClient } from "../../src/discovery/client.js";
import type { AttemptEvent } from "../../src/http/transport.js";
import type { KubeObject } from "../../src/object/types.js";
import type { WatchAllOptions } from "../../src/watchall/engine.js";
import { type RbacRule, watchAllRules } from "../../src/watchall/rbac.js";
import { CliProcess, runCli } from "../support/cli.js";
import { crdsGvr } from "../support/client.js";
import { createCrd } from "../support/crds.js";
import { createNamespace, type FaultCluster, faultCluster } from "../support/faults.js";
import { type ServiceAccountKubeconfig, serviceAccountKubeconfig } from "../support/serviceaccount.js";
import { outcome, uniqueName, waitFor } from "../support/wait.js";
import { EventLog, engineCluster, fastRetries, simpleCrd, transportFor, uniqueGroup } from "../support/watchall.js";

const rbac = "rbac.authorization.k8s.io";
const clusterRoles = { group: rbac, version: "v1", resource: "clusterroles" };
const clusterRoleBindings = { group: rbac, version: "v1", resource: "clusterrolebindings" };
const roles = { group: rbac, version: "v1", resource: "roles" };
const roleBindings = { group: rbac, version: "v1", resource: "rolebindings" };
const crdsPath = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
const apiServicesPath = "/apis/apiregistration.k8s.io/v1/apiservices";
/** The engine's informers with paginated lists instead of streaming ones. */
const paginated = { ...fastRetries.informer, streamingList: false };

/** One permission a rule grants: what a SubjectAccessReview asks about. */
interface Atom {
  readonly key: string;
  readonly attributes: Record<string, unknown>;
}

/** The ClusterRole's rules and the Role's (in the ServiceAccount's namespace). */
interface Grant {
  readonly cluster: readonly RbacRule[];
  readonly namespaced: readonly RbacRule[];
}

function atoms(rules: readonly RbacRule[], namespace?: string): Atom[] {
  return rules.flatMap((rule) =>
    rule.verbs.flatMap((verb) => [
      ...(rule.apiGroups ?? []).flatMap((group) =>
        (rule.resources ?? []).map((resource) => ({
          key: `${verb} ${resource}.${group} in ${namespace ?? "all namespaces"}`,
          attributes: { resourceAttributes: { group, resource, verb, namespace } },
        })),
      ),
      ...(rule.nonResourceURLs ?? []).map((path) => ({
        key: `${verb} ${path}`,
        attributes: { nonResourceAttributes: { path, verb } },
      })),
    ]),
  );
}

/** Whether a refused request (`METHOD path`) or a quarantine's reason is about what `rule` grants. */
function about(rule: RbacRule, line: string): boolean {
  if (rule.nonResourceURLs) return rule.nonResourceURLs.some((url) => line === `GET ${url}`);
  // A quarantine names the kind as `resource.group`; a kind of a group's `*` by its group.
  const names = (rule.resources ?? []).flatMap((r) => (r === "*" ? (rule.apiGroups ?? []) : [r]));
  return names.some((n) => line.includes(n));
}

/** A grant less one verb, resource or URL: what it leaves out, the rule it was left out of, and the rules left. */
interface Variant {
  readonly without: string;
  readonly from: RbacRule;
  readonly rules: RbacRule[];
}

/** `rules` less one verb, resource or URL, for each there is. */
function lessOne(rules: readonly RbacRule[]): Variant[] {
  const variants: Variant[] = [];
  const replaced = (i: number, rule: RbacRule | undefined) =>
    rules.flatMap((r, j) => (j !== i ? [r] : rule ? [rule] : []));
  rules.forEach((rule, i) => {
    const what = rule.nonResourceURLs?.join(",") ?? `${rule.resources?.join(",")} of "${rule.apiGroups?.join(",")}"`;
    for (const verb of rule.verbs) {
      const verbs = rule.verbs.filter((v) => v !== verb);
      const left = replaced(i, verbs.length ? { ...rule, verbs } : undefined);
      variants.push({ without: `${verb} on ${what}`, from: rule, rules: left });
    }
    for (const key of ["resources", "nonResourceURLs"] as const) {
      const list = rule[key] ?? [];
      if (list.length < 2) continue;
      for (const item of list) {
        const left = replaced(i, { ...rule, [key]: list.filter((x) => x !== item) });
        variants.push({ without: item, from: { ...rule, [key]: [item] }, rules: left });
      }
    }
  });
  return variants;
}

/** An engine run as the ServiceAccount, and every request of it the server refused. */
interface Run {
  readonly log: EventLog;
  readonly attempts: AttemptEvent[];
  readonly forbidden: string[];
  stop(): Promise<void>;
}

describe("kindwatch rbac: the least read-only RBAC of a watch", () => {
  let env: FaultCluster;
  const ns = uniqueName("rbac");
  const other = uniqueName("rbac-other");
  const sa = "watcher";
  const name = uniqueName("watcher-role");
  let account: ServiceAccountKubeconfig;
  const one = simpleCrd(uniqueGroup("rbac-one"));
  /** The same resource name (gizmos) in another group: a selection of `gizmos.<one>` must leave it out. */
  const namesake = simpleCrd(uniqueGroup("rbac-namesake"));
  const group = uniqueGroup("rbac-group");
  const grouped = [simpleCrd(group, "Gadget"), simpleCrd(group, "Doohickey", "Cluster")];
  /** A kind of `group` that comes after the engine has synced. */
  const later = simpleCrd(group, "Widget");
  const subject = { kind: "ServiceAccount", name: sa, namespace: ns };
  const runs: Run[] = [];

  const cli = (args: readonly string[]) => runCli(args, { kubeconfig: env.cluster.kubeconfigPath });

  async function createObject(spec: typeof one, namespace: string | undefined, objectName: string): Promise<void> {
    const resource = env.admin.client.resource({ group: spec.group, version: "v1", resource: spec.plural });
    await (namespace ? resource.namespace(namespace) : resource).create({
      apiVersion: `${spec.group}/v1`,
      kind: spec.kind,
      metadata: { name: objectName },
    } as KubeObject);
  }

  /** Whether the authorizer lets the ServiceAccount do what `atom` says: asked as admin, so nothing is granted by it. */
  async function allowed(atom: Atom): Promise<boolean> {
    const review = (await env.admin.transport.json({
      method: "POST",
      path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      body: {
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: account.username,
          groups: ["system:serviceaccounts", `system:serviceaccounts:${ns}`, "system:authenticated"],
          ...atom.attributes,
        },
      },
    })) as { status?: { allowed?: boolean } };
    return review.status?.allowed === true;
  }

  function grantAtoms(grant: Grant): Atom[] {
    return [...atoms(grant.cluster), ...atoms(grant.namespaced, ns)];
  }

  /**
   * Gives the ServiceAccount `grant` and nothing else, and waits until the authorizer allows exactly that of `all`
   * (default `grant` itself): RBAC changes reach it through its informers.
   */
  async function setRules(grant: Grant, all: Grant = grant): Promise<void> {
    await env.admin.client.resource(clusterRoles).patch(name, { rules: grant.cluster }, "merge");
    await env.admin.client.resource(roles).namespace(ns).patch(name, { rules: grant.namespaced }, "merge");
    const wanted = new Set(grantAtoms(grant).map((a) => a.key));
    await waitFor("the authorizer to apply the rules", async () => {
      for (const atom of grantAtoms(all)) if ((await allowed(atom)) !== wanted.has(atom.key)) return false;
      return true;
    });
  }

  function engineAsServiceAccount(options: WatchAllOptions): Run {
    const transport = transportFor(account.kubeconfigPath);
    const attempts: AttemptEvent[] = [];
    const forbidden: string[] = [];
    transport.observe({
      attempt: (e) => {
        attempts.push(e);
        if (e.status === 403) forbidden.push(`${e.method} ${e.path}`);
      },
    });
    const log = EventLog.start(engineCluster(transport), { ...fastRetries, logger: "none", ...options });
    const run = {
      log,
      attempts,
      forbidden,
      async stop() {
        await log.stop();
        await transport.close();
      },
    };
    runs.push(run);
    return run;
  }

  /** Whether `run` has opened a watch on `path` that the server accepted. */
  function watching(run: Run, path: string): boolean {
    return run.attempts.some((a) => a.stream && a.path === path && a.status === 200);
  }

  /**
   * Enough: as the ServiceAccount, an engine with `options` syncs exactly `kinds` (`resource.group`), has the CRD and
   * APIService watches open, and the server refused it nothing; with streaming lists (this server's default) and with
   * paginated ones (servers without the WatchList feature, and the fallback of a failed streaming list). Returns the
   * run with streaming lists, still going.
   */
  async function assertEnough(options: WatchAllOptions, kinds: readonly string[]): Promise<Run> {
    await (await enoughIn({ ...options, informer: paginated }, kinds)).stop();
    return enoughIn(options, kinds);
  }

  async function enoughIn(options: WatchAllOptions, kinds: readonly string[]): Promise<Run> {
    const run = engineAsServiceAccount(options);
    // Without discovery the initial sync never comes: a deadline, not a hang.
    const sync = await waitFor("the engine's initial sync", outcome(run.log.engine.synced()));
    assert.ok("resolved" in sync, String(sync));
    const status = run.log.engine.status().kinds;
    assert.deepEqual(status.map((k) => `${k.resource}.${k.group}`).sort(), [...kinds].sort());
    for (const k of status) assert.equal(k.state, "synced", `${k.resource}.${k.group}: ${k.reason ?? ""}`);
    await waitFor("the CRD and APIService watches to be open", () => {
      return watching(run, crdsPath) && watching(run, apiServicesPath);
    });
    assert.deepEqual(run.forbidden, []);
    return run;
  }

  /**
   * No more: for each verb, resource or URL of `grant` left out, the engine with `options` is refused a request or
   * quarantines a kind. With paginated lists: a streaming list is a watch to RBAC, so without them list is needed only
   * where streaming lists are off or fail (and for the access reviews of the kinds).
   */
  async function assertEachNeeded(options: WatchAllOptions, grant: Grant, onlyNamespaced = false): Promise<void> {
    const variants = [
      ...(onlyNamespaced ? [] : lessOne(grant.cluster)).map((v) => ({
        ...v,
        grant: { cluster: v.rules, namespaced: grant.namespaced },
      })),
      ...lessOne(grant.namespaced).map((v) => ({ ...v, grant: { cluster: grant.cluster, namespaced: v.rules } })),
    ];
    for (const variant of variants) {
      await setRules(variant.grant, grant);
      const run = engineAsServiceAccount({ ...options, informer: paginated });
      try {
        // Whatever fails must be what is missing: anything else refused would be a fault of the grant itself.
        const failures = await waitFor(`the engine to fail without ${variant.without}`, () => {
          const quarantined = run.log.engine.status().kinds.filter((k) => k.state === "quarantined");
          const lines = [...run.forbidden, ...quarantined.map((k) => k.reason ?? "")];
          return lines.length > 0 && lines;
        });
        assert.ok(
          failures.every((line) => about(variant.from, line)),
          `without ${variant.without}: ${failures.join("; ")}`,
        );
      } finally {
        await run.stop();
      }
    }
    await setRules(grant);
  }

  before(async () => {
    env = await faultCluster();
    for (const binding of ["system:discovery", "system:basic-user"]) {
      await env.admin.client.resource(clusterRoleBindings).delete(binding);
    }
    await createNamespace(env.admin.client, ns);
    await createNamespace(env.admin.client, other);
    await env.admin.client
      .resource({ group: "", version: "v1", resource: "serviceaccounts" })
      .namespace(ns)
      .create({ apiVersion: "v1", kind: "ServiceAccount", metadata: { name: sa } });
    account = await serviceAccountKubeconfig(env.cluster, ns, sa);
    await env.admin.client.resource(clusterRoles).create({
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRole",
      metadata: { name },
      rules: [],
    } as KubeObject);
    await env.admin.client.resource(clusterRoleBindings).create({
      apiVersion: `${rbac}/v1`,
      kind: "ClusterRoleBinding",
      metadata: { name },
      roleRef: { apiGroup: rbac, kind: "ClusterRole", name },
      subjects: [subject],
    } as KubeObject);
    await env.admin.client
      .resource(roles)
      .namespace(ns)
      .create({ apiVersion: `${rbac}/v1`, kind: "Role", metadata: { name }, rules: [] } as KubeObject);
    await env.admin.client
      .resource(roleBindings)
      .namespace(ns)
      .create({
        apiVersion: `${rbac}/v1`,
        kind: "RoleBinding",
        metadata: { name },
        roleRef: { apiGroup: rbac, kind: "Role", name },
        subjects: [subject],
      } as KubeObject);
    for (const spec of [one, namesake, ...grouped]) await createCrd(env.admin.transport, spec);
    await createObject(one, ns, "a");
    await createObject(one, other, "b");
    await createObject(namesake, ns, "c");
    await createObject(grouped[0] as typeof one, ns, "d");
    await createObject(grouped[1] as typeof one, undefined, "e");
  });
  after(async () => {
    for (const run of runs) await run.stop().catch(() => {});
    await env?.close();
  });

  it("prints the rules of one CRD kind, which let `kindwatch watch` sync it as the ServiceAccount", async () => {
    const printed = await cli(["rbac", `gizmos.${one.group}`, "--name", name, "-o", "json"]);
    assert.equal(printed.code, 0, printed.stderr);
    const role = JSON.parse(printed.stdout) as { kind: string; metadata: { name: string }; rules: RbacRule[] };
    assert.equal(role.kind, "ClusterRole");
    assert.equal(role.metadata.name, name);
    assert.deepEqual(role.rules, [
      { apiGroups: ["apiextensions.k8s.io"], resources: ["customresourcedefinitions"], verbs: ["list", "watch"] },
      { apiGroups: ["apiregistration.k8s.io"], resources: ["apiservices"], verbs: ["list", "watch"] },
      { apiGroups: ["authorization.k8s.io"], resources: ["selfsubjectaccessreviews"], verbs: ["create"] },
      { apiGroups: [one.group], resources: ["gizmos"], verbs: ["list", "watch"] },
      { nonResourceURLs: ["/api", "/apis"], verbs: ["get"] },
    ]);
    await setRules({ cluster: role.rules, namespaced: [] });

    const watch = new CliProcess(["watch", `gizmos.${one.group}`, "-o", "json", "-v"], {
      kubeconfig: account.kubeconfigPath,
    });
    const events = () => watch.events() as { type: string; group: string; name?: string }[];
    await watch.until("the kind synced", () => events().some((e) => e.type === "KIND_SYNCED" && e.group === one.group));
    const { code, stderr } = await watch.stop();
    assert.equal(code, 130, stderr);
    assert.deepEqual(
      events()
        .filter((e) => e.type === "ADDED")
        .map((e) => `${e.group} ${e.name}`)
        .sort(),
      [`${one.group} a`, `${one.group} b`],
    );
    assert.doesNotMatch(stderr, /forbidden|403/i);
  });

  it("one CRD kind: enough for the engine, and each verb and URL is needed", async () => {
    const printed = await cli(["rbac", `gizmos.${one.group}`, "-o", "json"]);
    const { rules } = JSON.parse(printed.stdout) as { rules: RbacRule[] };
    await setRules({ cluster: rules, namespaced: [] });
    const options = { include: { kinds: [`gizmos.${one.group}`] }, allResources: true };
    const run = await assertEnough(options, [`gizmos.${one.group}`]);
    assert.equal(run.log.of(namesake.group).length, 0, "the namesake in another group is not watched");
    await run.stop();
    await assertEachNeeded(options, { cluster: rules, namespaced: [] });
  });

  it("all kinds of a group: every kind, those to come too, and each verb is needed", async () => {
    const admin = new DiscoveryClient(env.admin.transport);
    const options = { include: { groups: [group] }, discoveryRefreshMs: 600_000 };
    const { cluster: rules, namespace } = watchAllRules(await admin.refresh(), options);
    assert.equal(namespace, undefined);
    assert.deepEqual(
      rules.find((r) => r.apiGroups?.includes(group)),
      { apiGroups: [group], resources: ["*"], verbs: ["list", "watch"] },
    );
    await setRules({ cluster: rules, namespaced: [] });
    const run = await assertEnough(options, [`gadgets.${group}`, `doohickeys.${group}`]);
    // Discovery is not refreshed for ten minutes: only the CRD watch can tell the engine of the new kind.
    await createCrd(env.admin.transport, later);
    await waitFor("the kind that came later to be synced", () =>
      run.log.events.some((e) => e.type === "KIND_SYNCED" && e.resource === later.plural),
    );
    assert.deepEqual(run.forbidden, []);
    await run.stop();
    await assertEachNeeded(options, { cluster: rules, namespaced: [] });
  });

  it("every custom kind (no KIND), printed as YAML: enough", async () => {
    const printed = await cli(["rbac", "--name", name]);
    assert.equal(printed.code, 0, printed.stderr);
    const docs = loadAll(printed.stdout) as { kind: string; rules: RbacRule[] }[];
    assert.deepEqual(
      docs.map((d) => d.kind),
      ["ClusterRole"],
    );
    const rules = (docs[0] as { rules: RbacRule[] }).rules;
    await setRules({ cluster: rules, namespaced: [] });
    // The CRDs there are now (the group's later kind too, unless the test before failed short of making it).
    const crds = await env.admin.client.resource(crdsGvr).list();
    const served = crds.items.map((crd) => {
      const spec = crd.spec as { group: string; names: { plural: string } };
      return `${spec.names.plural}.${spec.group}`;
    });
    assert.ok(served.includes(`gizmos.${namesake.group}`), served.join(" "));
    const run = await assertEnough({}, served);
    await run.stop();
  });

  it("-n: the kinds in a Role of that namespace, the engine's needs in the ClusterRole; each verb is needed", async () => {
    const printed = await cli(["rbac", `gizmos.${one.group}`, "-n", ns, "-o", "json"]);
    assert.equal(printed.code, 0, printed.stderr);
    const list = JSON.parse(printed.stdout) as {
      kind: string;
      items: { kind: string; metadata: { namespace?: string }; rules: RbacRule[] }[];
    };
    assert.equal(list.kind, "List");
    const [clusterRole, role] = list.items;
    assert.equal(clusterRole?.kind, "ClusterRole");
    assert.ok(!clusterRole.rules.some((r) => r.apiGroups?.includes(one.group)), "the kind is not granted cluster-wide");
    assert.equal(role?.kind, "Role");
    assert.equal(role.metadata.namespace, ns);
    assert.deepEqual(role.rules, [{ apiGroups: [one.group], resources: ["gizmos"], verbs: ["list", "watch"] }]);
    await setRules({ cluster: clusterRole.rules, namespaced: role.rules });
    const options = { include: { kinds: [`gizmos.${one.group}`], namespaces: [ns] }, allResources: true };
    const run = await assertEnough(options, [`gizmos.${one.group}`]);
    assert.deepEqual(
      run.log.events.filter((e) => e.type === "ADDED").map((e) => ("name" in e ? e.name : "")),
      ["a"],
    );
    await run.stop();
    // The ClusterRole's rules are those of every selection, each shown needed above.
    await assertEachNeeded(options, { cluster: clusterRole.rules, namespaced: role.rules }, true);
  });

  it("fails in one line, with a non-zero exit, on what it cannot grant", async () => {
    for (const [args, message] of [
      [
        ["rbac", "nosuchkind"],
        /^error: unknown kind "nosuchkind"; 'kindwatch kinds' lists the kinds the server serves$/,
      ],
      [["rbac", "--name", "Not_A_Name"], /^error: --name "Not_A_Name" is not a valid RBAC name/],
      [["rbac", `doohickeys.${group}`, "-n", ns], /^error: doohickeys\.\S+ is cluster-scoped: -n\/--namespace/],
      [["rbac", "--selector", "a=b"], /^error: kindwatch rbac takes no flag --selector$/],
    ] as const) {
      const result = await cli(args);
      assert.notEqual(result.code, 0, args.join(" "));
      const lines = result.stderr.split("\n").filter((l) => l && !l.startsWith("Run '"));
      assert.equal(lines.length, 1, result.stderr);
      assert.match(lines[0] ?? "", message);
    }
  });
});
