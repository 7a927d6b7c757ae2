/** Counting a process's TCP connections to a port from outside it, as the watch-all benchmark does for both peers. */
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { describe, it } from "node:test";
import { ChildSession } from "../../bench/support/child.js";
import { connectionsTo, inodesToPort, portOf } from "../../bench/support/sockets.js";
import { waitFor } from "../support/wait.js";

/** A child that opens `v4` connections to 127.0.0.1:PORT and `v6` to [::1]:PORT, says so, and holds them. */
const client = `
const net = require("node:net");
const [port, v4, v6] = process.argv.slice(1).map(Number);
const hosts = [...Array(v4).fill("127.0.0.1"), ...Array(v6).fill("::1")];
Promise.all(hosts.map((host) => new Promise((resolve, reject) => {
  const s = net.connect(port, host, () => resolve(s));
  s.on("error", reject);
}))).then(() => console.log(JSON.stringify({ connected: hosts.length })));
process.stdin.on("data", () => process.exit(0));`;

describe("bench sockets", () => {
  it("counts the sockets a process holds to a port, over IPv4 and IPv6, and not the accepting side's", async () => {
    const accepted: Socket[] = [];
    const server = createServer((s) => accepted.push(s));
    await new Promise<void>((resolve) => server.listen(0, "::", resolve));
    const address = server.address();
    assert.ok(address && typeof address === "object");
    const child = new ChildSession(process.execPath, ["-e", client, String(address.port), "2", "1"]);
    try {
      assert.deepEqual(await child.next(10_000), { connected: 3 });
      assert.equal(await connectionsTo(child.pid, address.port), 3);
      assert.equal(await connectionsTo(child.pid, address.port + 1), 0, "another port");
      await waitFor("the server to accept all three", () => accepted.length === 3);
      assert.equal(await connectionsTo(process.pid, address.port), 0, "accepted sockets have the port as local");
      child.send("done");
      await child.end(10_000);
    } finally {
      await child.stop();
      for (const s of accepted) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it("reads the remote port and the inode of each line of a /proc TCP table", () => {
    const table = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 0100007F:B635 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1045 1 0 100 0 0 10 0",
      "   1: 0100007F:D2F0 0100007F:1A0B 01 00000000:00000000 00:00000000 00000000     0        0 2077 1 0 20 4 30 10 -1",
    ].join("\n");
    assert.deepEqual(inodesToPort(table, 0x1a0b), ["2077"]);
    assert.deepEqual(inodesToPort(table, 443), []);
  });

  it("takes the server URL's port, or its scheme's", () => {
    assert.equal(portOf("https://127.0.0.1:6443"), 6443);
    assert.equal(portOf("https://kubernetes.default.svc"), 443);
    assert.equal(portOf("http://localhost"), 80);
  });
});
