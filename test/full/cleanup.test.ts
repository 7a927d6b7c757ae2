/**
 * A full-plane test file that fails mid-way leaves nothing running: not etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler or KWOK, whether it dies of an uncaught error (as the process exit hook sees it) or of a signal.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { access } from "node:fs/promises";
import { createInterface } from "node:readline";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { processes } from "../support/processes.js";
import { waitFor } from "../support/wait.js";

const child = fileURLToPath(new URL("../support/full-cluster-child.js", import.meta.url));
const components = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"];

/** The processes whose command line names `dir` (every component is started with paths into its cluster's folder). */
async function clusterProcesses(dir: string): Promise<{ pid: number; name: string }[]> {
  return (await processes())
    .filter((p) => p.args.some((a) => a.includes(dir)))
    .map((p) => ({ pid: p.pid, name: p.args[0]?.split("/").pop() ?? "" }));
}

describe("a failing full-plane test file", () => {
  for (const end of ["throw", "SIGTERM"] as const) {
    it(`leaves no process behind when it ends with ${end}`, { timeout: 240_000 }, async () => {
      const proc = spawn(process.execPath, [child], { stdio: ["pipe", "pipe", "pipe"] });
      let stderr = "";
      proc.stderr.on("data", (chunk: Buffer) => {
        stderr = (stderr + chunk.toString()).slice(-4000);
      });
      const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
      try {
        const lines = createInterface({ input: proc.stdout });
        const first = await new Promise<string>((resolve, reject) => {
          lines.once("line", resolve);
          proc.once("exit", (code) =>
            reject(new Error(`the child exited (${code}) before its cluster was up:\n${stderr}`)),
          );
        });
        const { dir } = JSON.parse(first) as { dir: string };
        const before = await clusterProcesses(dir);
        assert.deepEqual(before.map((p) => p.name).sort(), [...components].sort(), "the whole plane was running");

        if (end === "throw") proc.stdin.write("throw\n");
        else proc.kill(end);
        await exited;
        await waitFor("the cluster's processes to be gone", async () => (await clusterProcesses(dir)).length === 0, {
          timeoutMs: 10_000,
        });
        await assert.rejects(access(dir), "the cluster's folder is removed");
      } finally {
        proc.kill("SIGKILL");
      }
    });
  }
});
