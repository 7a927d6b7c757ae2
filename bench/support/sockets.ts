/**
 * The TCP connections a process holds to a server's port, counted from outside the process the same way for any
 * language: its socket file descriptors (/proc/PID/fd -> `socket:[INODE]`) matched against the kernel's TCP tables of
 * its network namespace (/proc/PID/net/tcp and tcp6), whose entries name each socket's inode and remote address.
 */
import { readdir, readFile, readlink } from "node:fs/promises";

/** The inodes of the sockets the process `pid` has open. */
async function socketInodes(pid: number): Promise<Set<string>> {
  const inodes = new Set<string>();
  const dir = `/proc/${pid}/fd`;
  for (const fd of await readdir(dir)) {
    // A descriptor closed between the listing and the read is not held any more: it does not count.
    const target = await readlink(`${dir}/${fd}`).catch(() => "");
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) inodes.add(inode);
  }
  return inodes;
}

/**
 * The inodes of the entries of a /proc/net/tcp or tcp6 table whose remote port is `port`. A line reads
 * `sl local_address rem_address st ... uid timeout inode ...`, addresses as `HEX_ADDRESS:HEX_PORT`.
 */
export function inodesToPort(table: string, port: number): string[] {
  const out: string[] = [];
  for (const line of table.split("\n").slice(1)) {
    const fields = line.trim().split(/\s+/);
    const remote = fields[2];
    const inode = fields[9];
    if (!remote || !inode) continue;
    if (Number.parseInt(remote.slice(remote.lastIndexOf(":") + 1), 16) === port) out.push(inode);
  }
  return out;
}

/** How many TCP sockets the process `pid` holds whose remote port is `port` (any state, any address family). */
export async function connectionsTo(pid: number, port: number): Promise<number> {
  const held = await socketInodes(pid);
  let count = 0;
  for (const family of ["tcp", "tcp6"]) {
    // A kernel without IPv6 has no tcp6 table: nothing to count there.
    const table = await readFile(`/proc/${pid}/net/${family}`, "utf8").catch(() => "");
    for (const inode of inodesToPort(table, port)) if (held.has(inode)) count++;
  }
  return count;
}

/** The port of a server URL, its scheme's default when the URL names none. */
export function portOf(server: string): number {
  const url = new URL(server);
  if (url.port) return Number(url.port);
  return url.protocol === "http:" ? 80 : 443;
}
