/**
 * A stand-in for a full-plane test file that fails mid-way: starts a full cluster, prints its folder, and on the line
 * `throw` on stdin dies of an uncaught error without stopping it (signals end it as they come). The cleanup test then
 * looks for what it left running.
 */
import { createInterface } from "node:readline";
import { TestCluster } from "../../src/testing/index.js";

const cluster = await TestCluster.start({ controlPlane: "full", nodes: 1 });
process.stdout.write(`${JSON.stringify({ dir: cluster.dir })}\n`);
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "throw") throw new Error("a test failed mid-way");
}
