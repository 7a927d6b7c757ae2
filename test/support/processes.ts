/** The machine's processes as /proc shows them: to check that a cluster left none behind. */
import { readdir, readFile } from "node:fs/promises";

/** The processes running now, by pid, with their command lines. */
export async function processes(): Promise<{ pid: number; args: string[] }[]> {
  const out: { pid: number; args: string[] }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const cmdline = await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "");
    if (cmdline) out.push({ pid: Number(entry), args: cmdline.split("\0") });
  }
  return out;
}

/** Whether `pid` is a live process (a zombie has ended: it only waits to be reaped). */
export async function running(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  return stat !== undefined && stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
}
