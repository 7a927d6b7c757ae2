/**
 * The demo that `npm start` runs, run as a user runs it: it starts its own cluster, and must show every step of its
 * scenario through `kindwatch watch` and end cleanly, also when interrupted or pointed at another cluster.
 */
import assert from "node:assert/strict";
import { copyFile, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isKind } from "../../src/http/errors.js";
import { connect, isNotFound } from "../../src/index.js";
import { TestCluster } from "../../src/testing/index.js";
import { CliProcess, runCli } from "../support/cli.js";
import { processes, running } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

const script = fileURLToPath(new URL("../../demo/main.js", import.meta.url));
const demoCrds = [
  "aimodelbindings.ai.kindwatch.dev",
  "aimodeldeployments.ai.kindwatch.dev",
  "llminvocationprofiles.ai.kindwatch.dev",
  "backupschedules.ops.example.com",
  "featureflags.flags.example.com",
];

/** Lines of the watch's output the scenario must produce, checked here independently of the demo's own checks. */
const expected = [
  /ADDED\s+BackupSchedule\.ops\.example\.com\s+nightly\s+\(initial\)$/,
  /ADDED\s+LLMInvocationProfile\.ai\.kindwatch\.dev\s+ml-team\/assistant$/,
  /ADDED\s+AIModelBinding\.ai\.kindwatch\.dev\s+ml-team\/chat$/,
  // The operator's status writes (which condition changed is printed by the demo, read from the object).
  /MODIFIED\s+AIModelBinding\.ai\.kindwatch\.dev\s+ml-team\/chat\s+\+status$/,
  /MODIFIED\s+LLMInvocationProfile\.ai\.kindwatch\.dev\s+ml-team\/assistant\s+\+status$/,
  /MODIFIED\s+LLMInvocationProfile\.ai\.kindwatch\.dev\s+ml-team\/assistant\s+spec\.context\.systemPrompt: .*, spec\.parameters\.maxTokens: 64→32$/,
  /MODIFIED\s+LLMInvocationProfile\.ai\.kindwatch\.dev\s+ml-team\/assistant\s+status\.conditions\[0\]\./,
  /ADDED\s+FeatureFlag\.flags\.example\.com\s+search-team\/streaming-responses$/,
  /MODIFIED\s+FeatureFlag\.flags\.example\.com\s+search-team\/streaming-responses\s+spec\.rolloutPercent: 25→100$/,
  /DELETED\s+FeatureFlag\.flags\.example\.com\s+search-team\/streaming-responses$/,
  /DELETED\s+AIModelBinding\.ai\.kindwatch\.dev\s+ml-team\/chat$/,
  /DELETED\s+BackupSchedule\.ops\.example\.com\s+nightly$/,
];

/** What the demo printed of the operator's objects and of the requests through the gateway, in order. */
const gatewaySteps = [
  /^ {2}LLMInvocationProfile ml-team\/assistant: Ready=True \(Live: generation 1 is live in the gateway\)$/,
  /^ {2}AIModelBinding ml-team\/chat: Ready=True \(Live: generation 1 is live in the gateway\)$/,
  /^\$ curl -s http:\/\/127\.0\.0\.1:\d+\/chat\/v1\/chat\/completions -H 'authorization: Bearer sk-demo-alice-\w+' -d '\{.*"What does kindwatch do\?"/,
  /^ {2}HTTP 200 {2}\{.*"content":"Hello w1 stand/,
  /^ {4}system: "You are a helpful assistant\. Answer in one line\."$/,
  /^ {4}max_tokens: 64, temperature: 0\.2$/,
  /^ {2}HTTP (200|429), (200|429), (200|429), (200|429)$/,
  /^ {2}429: Retry-After: [1-9]\d* {2}\{"error":\{"message":"Rate limit reached for route:amb\.ml-team\.chat\.0: 2 requests per second, burst 2\./,
  /^ {2}LLMInvocationProfile ml-team\/assistant: Ready=True \(Live: generation 2 is live in the gateway\)$/,
  /^ {4}system: "You are a pirate\. Answer in one line\."$/,
  /^ {4}max_tokens: 32, temperature: 0\.2$/,
  /^ {2}HTTP 404 {2}\{.*"code":"route_not_found"/,
];

function assertShown(stdout: string, stderr: string, changes = 19) {
  for (const line of expected) assert.match(stdout, new RegExp(line.source, "m"), `stdout lacks ${line}`);
  let at = 0;
  const lines = stdout.split("\n");
  for (const line of gatewaySteps) {
    const i = lines.findIndex((l, n) => n >= at && line.test(l));
    assert.ok(i >= 0, `stdout lacks ${line} after line ${at}:\n${stdout}`);
    at = i + 1;
  }
  assert.match(stderr, /^watching FeatureFlag\.flags\.example\.com \(new kind\)$/m);
  assert.match(stderr, /^version changed FeatureFlag\.flags\.example\.com: now v1 \(was v1alpha1\)$/m);
  assert.match(stderr, /^removed FeatureFlag\.flags\.example\.com: /m);
  assert.match(stdout, new RegExp(`done: kindwatch watch showed all ${changes} changes`));
}

/** The demo's kindwatch processes (pid and command line): the watch, the gateway and the operator. */
async function kindwatchChildren(pid: number): Promise<{ pid: number; args: string[] }[]> {
  const all = await processes();
  const parents = await Promise.all(
    all.map(async (p) => {
      const stat = await readFile(`/proc/${p.pid}/stat`, "utf8").catch(() => "");
      return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    }),
  );
  return all.filter((p, i) => parents[i] === pid && /\/cli\/(main|kindwatch)\.js$/.test(p.args[1] ?? ""));
}

/** Whether the cluster answers `/readyz` to an admin who trusts its CA (a plain fetch trusts no self-signed CA). */
async function ready(kubeconfig: string): Promise<boolean> {
  const cluster = connect({ kubeconfig, env: {}, maxRetries: 0, timeoutMs: 5000 });
  try {
    return (await cluster.transport.request({ path: "/readyz" })).status === 200;
  } finally {
    await cluster.close();
  }
}

/**
 * The cluster a running demo started, read while it is up: its kube-apiserver and etcd by pid (the API server found by
 * its port, etcd by the URL the API server was given) and a copy of its kubeconfig, which the demo deletes on stopping.
 * `stopped()` then asserts that both processes are gone and that the server no longer answers.
 */
async function demoCluster(demo: CliProcess) {
  const up = await demo.until(
    "the demo's cluster to be up",
    (p) => /kube-apiserver (https:\/\/127\.0\.0\.1:(\d+)) is up; kubeconfig: (\S+)$/m.exec(p.stdout) ?? undefined,
    240_000,
  );
  const [, server, port, kubeconfig = ""] = up;
  const dir = await mkdtemp(join(tmpdir(), "kindwatch-demo-test-"));
  const copy = join(dir, "kubeconfig");
  await copyFile(kubeconfig, copy);
  const all = await processes();
  const apiServer = all.find(
    (p) => basename(p.args[0] ?? "") === "kube-apiserver" && p.args.includes(`--secure-port=${port}`),
  );
  const etcdUrl = apiServer?.args.find((a) => a.startsWith("--etcd-servers="))?.slice("--etcd-servers=".length);
  const etcd = all.find(
    (p) => basename(p.args[0] ?? "") === "etcd" && p.args.includes(`--listen-client-urls=${etcdUrl}`),
  );
  assert.ok(apiServer && etcd, `the demo's kube-apiserver and etcd run (server ${server})`);
  const pids = { "kube-apiserver": apiServer.pid, etcd: etcd.pid };
  assert.equal(await ready(copy), true, "the demo's cluster answers while it runs");
  return {
    async stopped(): Promise<void> {
      try {
        for (const [name, pid] of Object.entries(pids)) {
          await waitFor(`the demo's ${name} (pid ${pid}) to be gone`, async () => !(await running(pid)), {
            timeoutMs: 5000,
          });
        }
        await assert.rejects(ready(copy), (err) => isKind(err, "Network"), "the demo's API server is stopped");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

describe("the demo", () => {
  it("starts its own cluster, shows every step and stops it", async () => {
    const demo = new CliProcess(["--pace", "0"], { script, timeoutMs: 240_000 });
    const cluster = await demoCluster(demo);
    const result = await demo.exited;
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assertShown(result.stdout, result.stderr);
    // No colours when the output is not a terminal, in the demo's lines or in kindwatch's.
    assert.ok(!(result.stdout + result.stderr).includes("\x1b["), "no colour codes");
    await cluster.stopped();
  });

  it("ends with 130 on Ctrl-C, its cluster stopped", async () => {
    const demo = new CliProcess(["--pace", "2500"], { script, timeoutMs: 240_000 });
    const cluster = await demoCluster(demo);
    await demo.until("the first live step", (p) => p.stdout.includes("▸ create Secret ml-team/api-keys"), 120_000);
    const children = await kindwatchChildren(demo.child.pid ?? 0);
    const commands = children.map((c) => c.args[2]).sort();
    assert.deepEqual(
      commands,
      ["gateway", "operator", "watch"],
      "the demo runs the gateway, the operator and the watch",
    );
    const { code, ms } = await demo.stop("SIGINT");
    assert.equal(code, 130, demo.stderr);
    assert.ok(ms < 5000, `took ${ms} ms to stop`);
    assert.doesNotMatch(demo.stderr, /demo failed/);
    for (const child of children) {
      await waitFor(
        `the demo's ${child.args[2]} (pid ${child.pid}) to be gone`,
        async () => !(await running(child.pid)),
        {
          timeoutMs: 5000,
        },
      );
    }
    await cluster.stopped();
  });

  it("with --full, shows an AIModelDeployment turn Ready once its simulated Pods are", async () => {
    const result = await runCli(["--pace", "0", "--full"], { script, timeoutMs: 240_000 });
    assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
    assertShown(result.stdout, result.stderr, 21);
    assert.match(
      result.stdout,
      /MODIFIED\s+AIModelDeployment\.ai\.kindwatch\.dev\s+ml-team\/llama-3-8b\s+status\.conditions\[0\]\./,
    );
    assert.match(
      result.stdout,
      /^ {2}AIModelDeployment ml-team\/llama-3-8b: Ready=True \(Ready: 2\/2 replicas ready\)$/m,
    );
  });

  it("says what is wrong with a bad flag", async () => {
    const result = await runCli(["--pace", "soon"], { script });
    assert.equal(result.code, 2);
    assert.equal(
      result.stderr,
      "error: --pace and --timeout take milliseconds (e.g. --pace 1000); see npm start -- --help\n",
    );
    const unknown = await runCli(["--fast"], { script });
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^error: Unknown option '--fast'.*; see npm start -- --help\n$/);
  });

  describe("on a cluster given with --kubeconfig", () => {
    let cluster: TestCluster;
    before(async () => {
      cluster = await TestCluster.start();
    });
    after(async () => {
      await cluster?.stop();
    });

    it("runs there and deletes what it made", async () => {
      const result = await runCli(["--pace", "0", "--kubeconfig", cluster.kubeconfigPath], {
        script,
        timeoutMs: 240_000,
      });
      assert.equal(result.code, 0, `stdout:\n${result.stdout}\nstderr:\n${result.stderr}`);
      assertShown(result.stdout, result.stderr);
      const client = connect({ kubeconfig: cluster.kubeconfigPath });
      try {
        const crds = client.resource({
          group: "apiextensions.k8s.io",
          version: "v1",
          resource: "customresourcedefinitions",
        });
        for (const name of demoCrds) {
          await assert.rejects(crds.get(name), isNotFound, `${name} is deleted`);
        }
        // No namespace controller runs here to finish the deletes: the namespaces are gone or terminating.
        const namespaces = client.resource({ group: "", version: "v1", resource: "namespaces" });
        for (const name of ["ml-team", "search-team"]) {
          await waitFor(`namespace ${name} deleted`, async () => {
            const ns = await namespaces.get(name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
            return ns === undefined || ns.metadata.deletionTimestamp !== undefined;
          });
        }
      } finally {
        await client.close();
      }
    });
  });
});
