/**
 * The Helm chart of deploy/helm/kindwatch with the real helm: it lints, renders what its values say, grants the
 * operator exactly the rules of src/operator/rbac.ts, takes its CRDs from deploy/crds/, and is what deploy/kindwatch.yaml
 * holds. On the real API server: its manifests apply server-side, and the operator's ServiceAccount, with a token
 * from the TokenRequest API, can make every call the operator makes through the controller runtime, and no other.
 */
import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { after, before, describe, it } from "node:test";
import { Informer } from "../../src/cache/informer.js";
import type { LogLevel } from "../../src/cache/log.js";
import { listWatchOf } from "../../src/cache/watcher.js";
import type { ApplyObject, DynamicClient, GroupVersionResource } from "../../src/client/index.js";
import { EventRecorder } from "../../src/controller/events.js";
import { withFinalizer } from "../../src/controller/finalizer.js";
import { setControllerReference } from "../../src/controller/owner.js";
import { setStatus } from "../../src/controller/status.js";
import { DiscoveryClient } from "../../src/discovery/index.js";
import { RestMapper } from "../../src/discovery/mapper.js";
import { ApiError } from "../../src/http/errors.js";
import { LeaderElector } from "../../src/manager/leader.js";
import type { KubeObject } from "../../src/object/types.js";
import { gatewayFinalizer, operatorFieldManager } from "../../src/operator/names.js";
import { gatewayRules, operatorLeaseName, operatorLeaseRules, operatorRules } from "../../src/operator/rbac.js";
import { aiApiVersion, aiResources } from "../../src/operator/types.js";
import { type ClientEnv, clientEnv, clientFor, deploymentsGvr, namespacesGvr } from "../support/client.js";
import { faultCluster } from "../support/faults.js";
import { chartDir, helm, parseObjects, plainManifestPath, renderChart, renderPlainManifest } from "../support/helm.js";
import { kubectl } from "../support/kubectl.js";
import { installOperatorCrds, operatorCrdsDir } from "../support/operator.js";
import { serviceAccountKubeconfig } from "../support/serviceaccount.js";
import { uniqueName, waitFor } from "../support/wait.js";

interface Container {
  name: string;
  image: string;
  args: string[];
  resources: unknown;
  securityContext: Record<string, unknown>;
  livenessProbe?: { httpGet: { path: string } };
  readinessProbe?: { httpGet: { path: string } };
}
interface DeploymentSpec {
  replicas: number;
  template: { spec: { serviceAccountName: string; securityContext: Record<string, unknown>; containers: Container[] } };
}

const find = (objects: KubeObject[], kind: string, name: string): KubeObject => {
  const obj = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(obj, `no ${kind} ${name} among ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return obj;
};
const deploymentOf = (objects: KubeObject[], name: string) => find(objects, "Deployment", name).spec as DeploymentSpec;
const containerOf = (objects: KubeObject[], name: string) => {
  const [container] = deploymentOf(objects, name).template.spec.containers;
  assert.ok(container);
  return container;
};
const argAfter = (args: readonly string[], flag: string) => {
  const at = args.indexOf(flag);
  assert.ok(at >= 0, `${flag} in ${args.join(" ")}`);
  return args[at + 1];
};
const rulesOf = (obj: KubeObject) => (obj as unknown as { rules: unknown }).rules;

describe("the Helm chart", () => {
  it("passes helm lint, --strict too, with its default values and with others", async () => {
    for (const extra of [[], ["--set", "operator.watchNamespace=models,operator.replicas=1,namespace.create=true"]]) {
      for (const strict of [[], ["--strict"]]) {
        const { stdout } = await helm(["lint", chartDir, ...strict, ...extra]);
        assert.match(stdout, /1 chart\(s\) linted, 0 chart\(s\) failed/);
        assert.doesNotMatch(stdout, /\[(ERROR|WARNING)\]/);
      }
    }
  });

  it("renders the default values: images, replicas, leader election, probes, resources, security", async () => {
    const objects = await renderChart("kindwatch", "kindwatch-system");
    assert.deepEqual(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort(), [
      "ClusterRole/kindwatch-operator",
      "ClusterRoleBinding/kindwatch-operator",
      "Deployment/kindwatch-gateway",
      "Deployment/kindwatch-operator",
      "Role/kindwatch-operator-leader-election",
      "RoleBinding/kindwatch-operator-leader-election",
      "Secret/kindwatch-gateway-admin-token",
      "Service/kindwatch-gateway",
      "Service/kindwatch-gateway-admin",
      "Service/kindwatch-operator-metrics",
      "ServiceAccount/kindwatch-gateway",
      "ServiceAccount/kindwatch-operator",
    ]);
    for (const obj of objects.filter((o) => !o.kind.startsWith("Cluster")))
      assert.equal(obj.metadata.namespace, "kindwatch-system", `${obj.kind}/${obj.metadata.name}`);

    const operator = deploymentOf(objects, "kindwatch-operator");
    assert.equal(operator.replicas, 2);
    assert.equal(operator.template.spec.serviceAccountName, "kindwatch-operator");
    const op = containerOf(objects, "kindwatch-operator");
    assert.equal(op.image, "ghcr.io/kindwatch/kindwatch:0.1.0");
    assert.equal(op.args[0], "operator");
    assert.equal(argAfter(op.args, "--gateway-admin-url"), "http://kindwatch-gateway-admin.kindwatch-system.svc:8081");
    assert.equal(argAfter(op.args, "--gateway-token-file"), "/var/run/kindwatch/admin-token/token");
    assert.ok(op.args.includes("--leader-elect"));
    assert.equal(argAfter(op.args, "--lease-namespace"), "kindwatch-system");
    assert.equal(argAfter(op.args, "--metrics-listen"), "0.0.0.0:8080");
    assert.ok(!op.args.includes("--namespace"), "every namespace is watched by default");
    assert.deepEqual(op.resources, {
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "1", memory: "512Mi" },
    });

    const gateway = deploymentOf(objects, "kindwatch-gateway");
    assert.equal(gateway.replicas, 1);
    const gw = containerOf(objects, "kindwatch-gateway");
    assert.deepEqual(gw.args, [
      "gateway",
      "--listen",
      "0.0.0.0:8080",
      "--admin-listen",
      "0.0.0.0:8081",
      "--admin-token-file",
      "/var/run/kindwatch/admin-token/token",
    ]);
    for (const [name, c] of [
      ["kindwatch-operator", op],
      ["kindwatch-gateway", gw],
    ] as const) {
      assert.equal(c.livenessProbe?.httpGet.path, "/healthz", name);
      assert.equal(c.readinessProbe?.httpGet.path, "/readyz", name);
      assert.deepEqual(c.securityContext, {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        capabilities: { drop: ["ALL"] },
        seccompProfile: { type: "RuntimeDefault" },
      });
      const pod = deploymentOf(objects, name).template.spec.securityContext;
      assert.equal(pod.runAsNonRoot, true, name);
    }
    const secret = find(objects, "Secret", "kindwatch-gateway-admin-token") as KubeObject & {
      data: { token: string };
    };
    assert.ok(Buffer.from(secret.data.token, "base64").length >= 32, "a random token of 48 characters");
  });

  it("renders other values: images, replicas, resources, namespaces, the watched namespace, an existing Secret", async () => {
    const objects = await renderChart("ai", "platform", {
      "image.repository": "registry.example/kw",
      "image.tag": "1.2.3",
      "gateway.image.tag": "1.2.4-gw",
      "operator.replicas": "3",
      "gateway.replicas": "4",
      "operator.resources.limits.memory": "1Gi",
      "namespace.name": "ai-system",
      "namespace.create": "true",
      "operator.leaderElection.namespace": "leases",
      "operator.watchNamespace": "models",
      "gateway.adminToken.existingSecret": "my-token",
    });
    const names = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    assert.ok(names.includes("Namespace/ai-system"));
    assert.ok(!names.some((n) => n.startsWith("Secret/")), "an existing Secret is not rendered");
    assert.ok(!names.some((n) => n.startsWith("Cluster")), "one watched namespace needs no cluster-wide role");
    assert.equal(containerOf(objects, "ai-kindwatch-operator").image, "registry.example/kw:1.2.3");
    assert.equal(containerOf(objects, "ai-kindwatch-gateway").image, "registry.example/kw:1.2.4-gw");
    assert.equal(deploymentOf(objects, "ai-kindwatch-operator").replicas, 3);
    assert.equal(deploymentOf(objects, "ai-kindwatch-gateway").replicas, 4);
    assert.deepEqual(containerOf(objects, "ai-kindwatch-operator").resources, {
      requests: { cpu: "100m", memory: "128Mi" },
      limits: { cpu: "1", memory: "1Gi" },
    });
    const args = containerOf(objects, "ai-kindwatch-operator").args;
    assert.equal(argAfter(args, "--namespace"), "models");
    assert.equal(argAfter(args, "--lease-namespace"), "leases");
    // Each release elects on a Lease of its own, and its Role names that one.
    assert.equal(argAfter(args, "--lease-name"), "ai-kindwatch-operator");
    const leaseRole = find(objects, "Role", "ai-kindwatch-operator-leader-election") as KubeObject & {
      rules: { resourceNames?: string[] }[];
    };
    assert.deepEqual(
      leaseRole.rules.flatMap((r) => r.resourceNames ?? []),
      ["ai-kindwatch-operator"],
    );
    assert.equal(argAfter(args, "--gateway-admin-url"), "http://ai-kindwatch-gateway-admin.ai-system.svc:8081");
    assert.equal(find(objects, "Role", "ai-kindwatch-operator").metadata.namespace, "models");
    assert.equal(find(objects, "RoleBinding", "ai-kindwatch-operator").metadata.namespace, "models");
    assert.equal(find(objects, "Role", "ai-kindwatch-operator-leader-election").metadata.namespace, "leases");
    assert.equal(find(objects, "Deployment", "ai-kindwatch-operator").metadata.namespace, "ai-system");
    const binding = find(objects, "RoleBinding", "ai-kindwatch-operator") as KubeObject & { subjects: unknown };
    assert.deepEqual(binding.subjects, [
      { kind: "ServiceAccount", name: "ai-kindwatch-operator", namespace: "ai-system" },
    ]);
    const volumes = (
      find(objects, "Deployment", "ai-kindwatch-gateway").spec as {
        template: { spec: { volumes: { name: string; secret?: { secretName: string } }[] } };
      }
    ).template.spec.volumes;
    assert.equal(volumes.find((v) => v.name === "admin-token")?.secret?.secretName, "my-token");

    const noElection = await renderChart("ai", "platform", { "operator.leaderElection.enabled": "false" });
    assert.ok(!noElection.some((o) => o.kind === "Role"), "no Lease rights without leader election");
    assert.ok(!containerOf(noElection, "ai-kindwatch-operator").args.includes("--leader-elect"));
  });

  it("grants the operator exactly operatorRules cluster-wide and operatorLeaseRules on its Lease; the gateway none", async () => {
    const objects = await renderChart("kindwatch", "kindwatch-system");
    assert.deepEqual(rulesOf(find(objects, "ClusterRole", "kindwatch-operator")), operatorRules);
    assert.deepEqual(rulesOf(find(objects, "Role", "kindwatch-operator-leader-election")), operatorLeaseRules);
    const watchingOne = await renderChart("kindwatch", "kindwatch-system", { "operator.watchNamespace": "models" });
    assert.deepEqual(rulesOf(find(watchingOne, "Role", "kindwatch-operator")), operatorRules);
    assert.deepEqual(gatewayRules, []);
    const gatewayAccount = find(objects, "ServiceAccount", "kindwatch-gateway") as KubeObject & {
      automountServiceAccountToken?: boolean;
    };
    assert.equal(gatewayAccount.automountServiceAccountToken, false);
    const bound = objects.flatMap((o) => ((o as { subjects?: { name: string }[] }).subjects ?? []).map((s) => s.name));
    assert.ok(!bound.includes("kindwatch-gateway"), "no role is bound to the gateway");
  });

  it("ships the CRDs of deploy/crds/ and nothing else as its CRDs", async () => {
    const { stdout } = await helm(["template", "kindwatch", chartDir, "--include-crds", "--namespace", "x"]);
    const rendered = parseObjects(stdout).filter((o) => o.kind === "CustomResourceDefinition");
    const files = (await readdir(operatorCrdsDir)).filter((f) => f.endsWith(".yaml")).sort();
    const source = (await Promise.all(files.map(async (f) => readFile(`${operatorCrdsDir}${f}`, "utf8")))).flatMap(
      parseObjects,
    );
    const byName = (a: KubeObject, b: KubeObject) => String(a.metadata.name).localeCompare(String(b.metadata.name));
    assert.equal(source.length, 3);
    assert.deepEqual(rendered.sort(byName), source.sort(byName));
  });

  it("is what deploy/kindwatch.yaml holds (npm run deploy:render writes it)", async () => {
    assert.equal(await readFile(plainManifestPath, "utf8"), await renderPlainManifest());
  });
});

const rbacGroup = "rbac.authorization.k8s.io";
const secretsGvr: GroupVersionResource = { group: "", version: "v1", resource: "secrets" };
const servicesGvr: GroupVersionResource = { group: "", version: "v1", resource: "services" };
const podsGvr: GroupVersionResource = { group: "", version: "v1", resource: "pods" };
const leasesGvr: GroupVersionResource = { group: "coordination.k8s.io", version: "v1", resource: "leases" };
const eventsGvr: GroupVersionResource = { group: "events.k8s.io", version: "v1", resource: "events" };

/** One valid object of each kind, as users write them. */
const samples = {
  deployments: {
    kind: "AIModelDeployment",
    spec: { model: { name: "llama" }, framework: "vllm", image: "vllm/vllm-openai:v0.6.0", replicas: 1 },
  },
  bindings: {
    kind: "AIModelBinding",
    spec: { target: { url: "http://model.invalid:8000" }, provider: "openai", routes: [{ path: "/v1" }] },
  },
  profiles: { kind: "LLMInvocationProfile", spec: { model: "llama" } },
} as const;

const forbidden = async (what: string, call: () => Promise<unknown>) => {
  await assert.rejects(call, (err: unknown) => err instanceof ApiError && err.kind === "Forbidden", what);
};

describe("the chart's RBAC on the real API server", () => {
  let owned: Awaited<ReturnType<typeof faultCluster>>;
  let env: ClientEnv;
  let sa: { client: DynamicClient; close(): Promise<void> };
  let release: string;
  let objects: KubeObject[];
  /** Where the operator's Deployment and Lease are; the models live in `apps`, another namespace. */
  let home: string;
  let apps: string;
  const stops: (() => Promise<void> | void)[] = [];

  before(async () => {
    // A cluster of its own, with the admission plugin that OpenShift and hardened clusters turn on: setting an owner
    // reference with blockOwnerDeletion needs update on the owner's finalizers, changing one needs delete.
    owned = await faultCluster({
      apiServerArgs: ["--enable-admission-plugins=OwnerReferencesPermissionEnforcement"],
    });
    const cluster = owned.cluster;
    env = await clientEnv("deploy", async () => cluster);
    home = env.namespace;
    apps = uniqueName("deploy-apps");
    await env.client.resource(namespacesGvr).create({ apiVersion: "v1", kind: "Namespace", metadata: { name: apps } });
    await installOperatorCrds(env.client, new RestMapper(new DiscoveryClient(env.transport)));
    release = uniqueName("kw");
    const { stdout } = await helm(["template", release, chartDir, "--namespace", home]);
    objects = parseObjects(stdout);
    await kubectl(
      env.cluster.kubeconfigPath,
      ["apply", "--server-side", "--field-manager=kindwatch-tests", "-f", "-"],
      {
        input: stdout,
      },
    );
    const account = `${release}-kindwatch-operator`;
    const { kubeconfigPath } = await serviceAccountKubeconfig(env.cluster, home, account);
    const conn = clientFor(kubeconfigPath);
    sa = { client: conn.client, close: () => conn.transport.close() };
  });

  after(async () => {
    for (const stop of stops.reverse()) await stop();
    await sa?.close();
    for (const resource of ["clusterroles", "clusterrolebindings"]) {
      await env.client
        .resource({ group: rbacGroup, version: "v1", resource })
        .delete(`${release}-kindwatch-operator`)
        .catch(() => {});
    }
    await env.client
      .resource(namespacesGvr)
      .delete(apps)
      .catch(() => {});
    await env?.close();
    await owned?.close();
  });

  it("applies server-side: every rendered object is on the server, and applying it again changes nothing", async () => {
    const manifest = objects.map((o) => JSON.stringify(o)).join("\n");
    const versions = async () => {
      const { stdout } = await kubectl(env.cluster.kubeconfigPath, ["get", "-f", "-", "-o", "json"], {
        input: manifest,
      });
      const live = (JSON.parse(stdout) as { items: KubeObject[] }).items;
      return new Map(live.map((o) => [`${o.kind}/${o.metadata.name}`, o.metadata.resourceVersion]));
    };
    const before = await versions();
    assert.equal(before.size, objects.length);
    // Without the Secret: `helm template` cannot look up the token it keeps, so each render makes a new one.
    const rest = objects.filter((o) => o.kind !== "Secret");
    await kubectl(
      env.cluster.kubeconfigPath,
      ["apply", "--server-side", "--field-manager=kindwatch-tests", "-f", "-"],
      {
        input: rest.map((o) => JSON.stringify(o)).join("\n"),
      },
    );
    assert.deepEqual(
      await versions(),
      before,
      "a second apply is a no-op: the chart renders objects as the server keeps them",
    );
  });

  it("runs Pods that the API server admits under the restricted Pod Security Standard", async () => {
    const pods = env.client.resource(podsGvr).namespace(home);
    await env.client
      .resource(namespacesGvr)
      .patch(home, { metadata: { labels: { "pod-security.kubernetes.io/enforce": "restricted" } } }, "merge");
    const privileged = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "root" },
      spec: { containers: [{ name: "c", image: "busybox" }] },
    };
    await forbidden("a Pod without the restricted security context", () => pods.create(privileged, { dryRun: true }));
    for (const name of [`${release}-kindwatch-operator`, `${release}-kindwatch-gateway`]) {
      const template = (find(objects, "Deployment", name).spec as { template: { spec: unknown } }).template;
      const pod = { apiVersion: "v1", kind: "Pod", metadata: { name }, spec: template.spec };
      const admitted = await pods.create(pod, { dryRun: true });
      assert.equal(admitted.metadata.name, name);
    }
  });

  it("lets the operator's ServiceAccount list and watch, in every namespace, what the operator watches", async () => {
    const admin = env.client;
    const watched: [GroupVersionResource, KubeObject][] = [
      ...Object.entries(aiResources).map(([key, gvr]): [GroupVersionResource, KubeObject] => {
        const sample = samples[key as keyof typeof samples];
        return [gvr, { apiVersion: aiApiVersion, kind: sample.kind, metadata: { name: "watched" }, spec: sample.spec }];
      }),
      [deploymentsGvr, deployment("watched")],
      [servicesGvr, service("watched")],
      [secretsGvr, { apiVersion: "v1", kind: "Secret", metadata: { name: "watched" }, data: { k: "dg==" } }],
    ];
    for (const [gvr, obj] of watched) {
      const informer = new Informer<KubeObject>(listWatchOf(sa.client.resource(gvr)), {
        backoff: { initialMs: 50, maxMs: 200 },
      });
      const errors: ApiError[] = [];
      informer.onError((error) => errors.push(error));
      informer.start();
      stops.push(() => informer.stop());
      await waitFor(`${gvr.resource} synced`, () => informer.hasSynced || errors.length > 0);
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
        `${gvr.resource}: the list`,
      );
      await admin.resource(gvr).namespace(apps).create(obj);
      await waitFor(
        `${gvr.resource} watched`,
        () =>
          informer.store.list().some((o) => o.metadata.namespace === apps && o.metadata.name === "watched") ||
          errors.length > 0,
      );
      assert.deepEqual(
        errors.map((e) => e.message),
        [],
        `${gvr.resource}: the watch`,
      );
    }
  });

  it("lets it hold its finalizer on each kind, write its status, and release it on deletion", async () => {
    for (const [key, gvr] of Object.entries(aiResources)) {
      const sample = samples[key as keyof typeof samples];
      const name = uniqueName("fin");
      const mine = sa.client.resource<KubeObject>(gvr).namespace(apps);
      await env.client
        .resource(gvr)
        .namespace(apps)
        .create({ apiVersion: aiApiVersion, kind: sample.kind, metadata: { name }, spec: sample.spec });
      // As a reconcile gets it from the cache: withFinalizer writes without reading it first.
      const cached = await env.client.resource(gvr).namespace(apps).get(name);
      const ensured = await withFinalizer(
        mine,
        cached,
        gatewayFinalizer,
        {
          // The cached copy is stale by now (the finalizer was added): the Conflict makes setStatus read it afresh.
          ensure: async () =>
            setStatus(
              mine,
              cached,
              { conditions: [{ type: "Ready", status: "True", reason: "Live", message: "live in the gateway" }] },
              { subresource: true, fieldManager: operatorFieldManager },
            ),
          cleanup: async () => {},
        },
        { fieldManager: operatorFieldManager },
      );
      assert.ok(ensured, key);
      assert.deepEqual(ensured.metadata.finalizers, [gatewayFinalizer], key);
      assert.equal((ensured.status as { conditions: { type: string }[] }).conditions[0]?.type, "Ready", key);

      await env.client.resource(gvr).namespace(apps).delete(name);
      const deleting = await env.client.resource(gvr).namespace(apps).get(name);
      let cleaned = false;
      await withFinalizer(
        mine,
        deleting,
        gatewayFinalizer,
        {
          ensure: async () => assert.fail("not while deleting"),
          cleanup: async () => {
            cleaned = true;
          },
        },
        { fieldManager: operatorFieldManager },
      );
      assert.ok(cleaned, key);
      await forbidden(`${key}: update`, () => mine.update(ensured));
      await waitFor(`${key} gone`, async () => {
        try {
          await env.client.resource(gvr).namespace(apps).get(name);
          return false;
        } catch (err) {
          return err instanceof ApiError && err.kind === "NotFound";
        }
      });
    }
  });

  it("lets it server-side apply the Deployment and Service an AIModelDeployment owns, creating and updating them", async () => {
    const owner = await env.client
      .resource(aiResources.deployments)
      .namespace(apps)
      .create({
        apiVersion: aiApiVersion,
        kind: "AIModelDeployment",
        metadata: { name: uniqueName("owner") },
        spec: samples.deployments.spec,
      });
    const ownerName = owner.metadata.name ?? "";
    for (const [gvr, make] of [
      [deploymentsGvr, deployment],
      [servicesGvr, service],
    ] as const) {
      const body = make(ownerName);
      body.metadata.namespace = apps;
      setControllerReference(owner, body);
      const client = sa.client.resource(gvr).namespace(apps);
      const created = await client.apply(body as ApplyObject<KubeObject>, {
        fieldManager: operatorFieldManager,
        force: true,
      });
      assert.equal(created.metadata.ownerReferences?.[0]?.uid, owner.metadata.uid, gvr.resource);
      const labelled = { ...body, metadata: { ...body.metadata, labels: { changed: "yes" } } };
      const updated = await client.apply(labelled as ApplyObject<KubeObject>, {
        fieldManager: operatorFieldManager,
        force: true,
      });
      assert.equal(updated.metadata.labels?.changed, "yes", gvr.resource);
      await forbidden(`${gvr.resource}: get`, () => client.get(ownerName));
      await forbidden(`${gvr.resource}: delete`, () => client.delete(ownerName));
    }
    // Without delete, it cannot adopt a Deployment someone else made under the model's name: it reports that instead.
    const orphan = deployment(ownerName);
    orphan.metadata.name = uniqueName("orphan");
    orphan.metadata.namespace = apps;
    await env.client.resource(deploymentsGvr).namespace(apps).create(orphan);
    setControllerReference(owner, orphan);
    await forbidden("adopting a Deployment", () =>
      sa.client
        .resource(deploymentsGvr)
        .namespace(apps)
        .apply(orphan as ApplyObject<KubeObject>, {
          fieldManager: operatorFieldManager,
          force: true,
        }),
    );
  });

  it("lets it record Events, a series too, in any namespace", async () => {
    const logs: { level: LogLevel; message: string }[] = [];
    const recorder = new EventRecorder(sa.client, {
      reportingController: "ai.kindwatch.dev/operator",
      reportingInstance: "test-0",
      logger: (level, message) => logs.push({ level, message }),
    });
    stops.push(() => recorder.close());
    const regarding = {
      apiVersion: aiApiVersion,
      kind: "AIModelBinding",
      name: "evented",
      namespace: apps,
      uid: "00000000-0000-0000-0000-000000000001",
    };
    const event = { type: "Warning", reason: "SecretNotFound", action: "Reconcile", note: "no Secret keys" } as const;
    recorder.record(regarding, event);
    await recorder.flush();
    recorder.record(regarding, event);
    await recorder.flush();
    assert.deepEqual(logs, []);
    assert.equal(recorder.stats.writes, 2, "one create, one series patch");
    const [written] = (await env.client.resource(eventsGvr).namespace(apps).list()).items.filter(
      (e) => (e as { regarding?: { name?: string } }).regarding?.name === "evented",
    );
    assert.equal((written as { series?: { count: number } } | undefined)?.series?.count, 2);
  });

  it("lets it elect a leader on its Lease: create, renew, release; no other Lease", async () => {
    const warnings: string[] = [];
    // The chart names the Lease after the release (--lease-name), and its Role grants that one.
    const name = `${release}-${operatorLeaseName}`;
    const abort = new AbortController();
    // A Lease the Role does not grant is never won: fail then rather than wait for ever.
    const deadline = setTimeout(() => abort.abort(), 30_000);
    let renewals = 0;
    const elector = new LeaderElector(sa.client, {
      namespace: home,
      name,
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
      logger: (level, message) => {
        if (level !== "info") warnings.push(message);
      },
      onStartedLeading: async (signal) => {
        const leases = env.client.resource(leasesGvr).namespace(home);
        const first = (await leases.get(name)).spec as { renewTime: string };
        await waitFor("a renewal", async () => {
          const spec = (await leases.get(name)).spec as { renewTime: string };
          if (spec.renewTime !== first.renewTime) renewals++;
          return renewals > 0 || signal.aborted;
        });
        abort.abort();
      },
    });
    await elector.run(abort.signal);
    clearTimeout(deadline);
    assert.ok(renewals > 0, "never led on the chart's Lease");
    assert.deepEqual(warnings, []);
    const released = await env.client.resource(leasesGvr).namespace(home).get(name);
    assert.equal((released.spec as { holderIdentity?: string }).holderIdentity, "", "released on stop");

    const refused: string[] = [];
    const other = new LeaderElector(sa.client, {
      namespace: home,
      name: uniqueName("other"),
      leaseDurationMs: 3000,
      renewDeadlineMs: 2000,
      retryPeriodMs: 200,
      logger: (level, message, fields) => {
        if (level !== "info") refused.push(`${message}: ${String(fields?.error ?? "")}`);
      },
    });
    const stop = new AbortController();
    const running = other.run(stop.signal);
    // It may create another Lease (create cannot be limited to a name), but never read or renew it.
    await waitFor("a refused try on another Lease", () => refused.some((w) => /forbidden/i.test(w)));
    stop.abort();
    await running;
    assert.equal(other.isLeader(), false);
  });

  it("refuses it what the operator never does", async () => {
    const c = sa.client;
    const cms = { group: "", version: "v1", resource: "configmaps" };
    await env.client
      .resource(secretsGvr)
      .namespace(apps)
      .create({
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "keys" },
        data: { k: "dg==" },
      });
    await forbidden("a GET of a Secret: keys come from the cache", () =>
      c.resource(secretsGvr).namespace(apps).get("keys"),
    );
    await forbidden("writing Secrets", () =>
      c
        .resource(secretsGvr)
        .namespace(apps)
        .create({ apiVersion: "v1", kind: "Secret", metadata: { name: "x" } }),
    );
    await forbidden("listing Pods", () => c.resource(podsGvr).list());
    await forbidden("listing ConfigMaps", () => c.resource(cms).namespace(apps).list());
    await forbidden("a Lease outside its namespace", () =>
      c
        .resource(leasesGvr)
        .namespace(apps)
        .create({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: "x" },
        }),
    );
    await forbidden("creating AIModelBindings", () =>
      c
        .resource(aiResources.bindings)
        .namespace(apps)
        .create({
          apiVersion: aiApiVersion,
          kind: "AIModelBinding",
          metadata: { name: "x" },
          spec: samples.bindings.spec,
        }),
    );
    await forbidden("deleting AIModelBindings", () =>
      c.resource(aiResources.bindings).namespace(apps).delete("watched"),
    );
    await forbidden("reading Events", () => c.resource(eventsGvr).namespace(apps).list());
    await forbidden("reading its own RBAC", () =>
      c.resource({ group: rbacGroup, version: "v1", resource: "clusterroles" }).list(),
    );
  });
});

/** The kind of Deployment the operator applies for a model (minimal, valid). */
function deployment(name: string): KubeObject {
  const labels = { "ai.kindwatch.dev/model-deployment": name };
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: "model", image: "vllm/vllm-openai:v0.6.0" }] } },
    },
  };
}

/** The Service beside it. */
function service(name: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { selector: { "ai.kindwatch.dev/model-deployment": name }, ports: [{ port: 8000, targetPort: 8000 }] },
  };
}
