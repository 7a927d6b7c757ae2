/**
 * `kindwatch get -w` and `--watch-only` next to `kubectl get -w` watching the same objects through the same changes:
 * the list, then a line (or object) per change, byte for byte (the Gizmo kind has no AGE column). Ctrl-C ends ours
 * with 130, as `kindwatch watch`; kubectl exits 1.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { CliProcess } from "../support/cli.js";
import { type ClientEnv, clientEnv } from "../support/client.js";
import type { CrdSpec } from "../support/crd-manifest.js";
import { createCrd, deleteCrd } from "../support/crds.js";
import { kubectl } from "../support/kubectl.js";
import { KubectlProcess } from "../support/kubectl-process.js";
import { uniqueName, waitFor } from "../support/wait.js";

/** Eighteen processes start at once on a machine that may be busy: each gets this long for its first lines. */
const slow = 120_000;

describe("kindwatch get -w, side by side with kubectl get -w", () => {
  let env: ClientEnv;
  let admin: string;
  let crd: CrdSpec;
  let gizmos: string;
  const running: { stop(signal?: NodeJS.Signals): Promise<unknown> }[] = [];

  const k = (args: string[], input?: string) =>
    kubectl(admin, ["-n", env.namespace, ...args], input === undefined ? {} : { input });
  const gizmo = (name: string, size: number, labels = "{}") =>
    `apiVersion: ${crd.group}/v1\nkind: Gizmo\nmetadata: {name: ${name}, labels: ${labels}}\nspec: {size: ${size}}\n`;
  /** The same command through both. */
  const pair = (args: string[]) => {
    const full = ["get", gizmos, "-n", env.namespace, ...args];
    const ours = new CliProcess(full, { kubeconfig: admin });
    const theirs = new KubectlProcess(admin, full);
    running.push(ours, theirs);
    return { args, ours, theirs };
  };

  before(async () => {
    env = await clientEnv("cli-get-watch");
    admin = env.cluster.kubeconfigPath;
    crd = {
      group: `${uniqueName("gw")}.kindwatch.dev`,
      kind: "Gizmo",
      plural: "gizmos",
      versions: [
        {
          name: "v1",
          storage: true,
          additionalPrinterColumns: [{ name: "Size", type: "integer", jsonPath: ".spec.size" }],
        },
      ],
    };
    await createCrd(env.transport, crd);
    gizmos = `gizmos.${crd.group}`;
    await waitFor("gizmos to be served", () =>
      env.transport.json({ path: `/apis/${crd.group}/v1/gizmos` }).then(() => true),
    );
    await k(["create", "-f", "-"], [gizmo("g1", 1, "{team: a}"), gizmo("sentinel", 0)].join("---\n"));
  });

  after(async () => {
    for (const p of running) await p.stop("SIGKILL").catch(() => {});
    await deleteCrd(env.transport, crd).catch(() => {});
    await env?.close();
  });

  it("prints the list then each change as kubectl does, in every output format; SIGINT ends it with 130", async () => {
    const listed = [
      pair(["-w"]),
      pair(["--watch", "--show-labels", "-L", "team"]),
      pair(["-w", "-o", "name"]),
      pair(["-w", "-o", "yaml"]),
      pair(["-w", "-o", 'jsonpath={.metadata.name}:{.spec.size}{"\\n"}']),
      pair(["-w", "-o", "custom-columns=NAME:.metadata.name,TEAM:.metadata.labels.team"]),
      pair(["g1", "-w"]),
    ];
    const only = [pair(["--watch-only"]), pair(["--watch-only", "-o", "name"])];
    for (const { args, ours, theirs } of listed) {
      await ours.until(`our ${args.join(" ")} to list`, (p) => p.stdout.includes("g1") || undefined, slow);
      await theirs.until(`kubectl's ${args.join(" ")} to list`, (p) => p.stdout.includes("g1"), slow);
    }
    // A --watch-only prints nothing until a change: touch an object until both show one, so that both are watching.
    let touches = 0;
    await waitFor(
      "the --watch-only runs to watch",
      async () => {
        if (only.every(({ ours, theirs }) => ours.stdout.includes("sentinel") && theirs.stdout.includes("sentinel"))) {
          return true;
        }
        await k(["label", gizmos, "sentinel", "--overwrite", `touch=${++touches}`]);
        return undefined;
      },
      { timeoutMs: slow, intervalMs: 200 },
    );

    await k(["create", "-f", "-"], gizmo("a-gizmo-with-a-much-longer-name", 22));
    await k([
      "patch",
      gizmos,
      "g1",
      "--type",
      "merge",
      "-p",
      '{"spec":{"size":333},"metadata":{"labels":{"team":"z"}}}',
    ]);
    await k(["delete", gizmos, "a-gizmo-with-a-much-longer-name"]);
    await k(["create", "-f", "-"], gizmo("zlast", 999));
    await k(["patch", gizmos, "g1", "--type", "merge", "-p", '{"spec":{"size":4444}}']);
    for (const { args, ours, theirs } of [...listed, ...only]) {
      const done = (text: string) => text.includes(args.includes("g1") ? "4444" : "zlast");
      await ours.until(`our ${args.join(" ")} to see the last change`, (p) => done(p.stdout) || undefined, slow);
      await theirs.until(`kubectl's ${args.join(" ")} to see the last change`, (p) => done(p.stdout), slow);
    }

    for (const { args, ours, theirs } of listed) {
      const [a, b] = await Promise.all([ours.stop("SIGINT"), theirs.stop("SIGINT")]);
      assert.equal(a.stdout, b.stdout, args.join(" "));
      assert.equal(a.code, 130, `${args.join(" ")}: ${a.stderr}`);
      assert.equal(b.code, 1, "kubectl exits 1 on SIGINT");
      assert.equal(a.stderr, "");
    }
    const withoutSentinel = (text: string) =>
      text
        .split("\n")
        .filter((l) => !l.includes("sentinel"))
        .join("\n");
    for (const { args, ours, theirs } of only) {
      const [a, b] = await Promise.all([ours.stop("SIGINT"), theirs.stop("SIGINT")]);
      assert.equal(withoutSentinel(a.stdout), withoutSentinel(b.stdout), args.join(" "));
      assert.equal(a.code, 130);
    }
    const table = await listed[0]?.ours.exited;
    assert.match(table?.stdout ?? "", /^NAME +SIZE\ng1 +1\nsentinel +0\n/);
    assert.match(table?.stdout ?? "", /\na-gizmo-with-a-much-longer-name {3}22\ng1 {32}333\n/);
  });

  it("ends as kubectl does when the object is not there, or when asked for more than it can watch", async () => {
    const missing = new CliProcess(["get", gizmos, "nope", "-n", env.namespace, "-w"], { kubeconfig: admin });
    const missingResult = await missing.exited;
    assert.equal(missingResult.code, 1);
    assert.equal(missingResult.stderr, `error: ${gizmos} "nope" not found\n`);
    const ignored = await new CliProcess(["get", gizmos, "nope", "-n", env.namespace, "-w", "--ignore-not-found"], {
      kubeconfig: admin,
    }).exited;
    assert.deepEqual([ignored.code, ignored.stdout, ignored.stderr], [0, "", ""]);
    const two = await new CliProcess(["get", gizmos, "g1", "sentinel", "-n", env.namespace, "-w"], {
      kubeconfig: admin,
    }).exited;
    assert.equal(two.stderr, "error: you may only watch a single resource or type of resource at a time\n");
    const kinds = await new CliProcess(["get", `${gizmos},cm`, "-n", env.namespace, "-w"], { kubeconfig: admin })
      .exited;
    assert.equal(kinds.stderr, "error: you may only specify a single resource type\n");
    const sorted = new CliProcess(["get", gizmos, "-n", env.namespace, "-w", "--sort-by=.spec.size"], {
      kubeconfig: admin,
    });
    running.push(sorted);
    await sorted.until("the sorted list", (p) => p.stdout.includes("g1") || undefined, slow);
    assert.equal(sorted.stderr, "warning: --watch requested, --sort-by will be ignored for watch events received\n");
    assert.match(sorted.stdout, /^NAME +SIZE\nsentinel +0\n/, "the list is sorted by size");
  });
});
