/**
 * `wrk` (Debian's package), the load generator of the gateway benchmark's saturation phase: run with a Lua script that
 * makes every request a POST with a body and headers, and its `--latency` report read back.
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";

/** What one wrk run reports. */
export interface WrkReport {
  readonly requests: number;
  readonly seconds: number;
  readonly requestsPerSecond: number;
  /** Latency percentiles from `--latency`, in microseconds. */
  readonly latencyUs: { readonly p50: number; readonly p75: number; readonly p90: number; readonly p99: number };
  /** Answers with a status outside 2xx and 3xx. */
  readonly non2xx: number;
  /** Connect, read, write errors and timeouts together. */
  readonly socketErrors: number;
}

const unitMicros: Record<string, number> = { us: 1, ms: 1e3, s: 1e6, m: 60e6, h: 3600e6 };

/** A wrk duration (`812.00us`, `1.10ms`, `2.00s`, `1.00m`) in microseconds. */
export function wrkMicros(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${JSON.stringify(text)}`);
  // wrk prints two decimals: rounding drops the binary fraction noise of the product (1.10 * 1000).
  return Math.round(Number(m[1]) * (unitMicros[m[2] as string] as number) * 1000) / 1000;
}

/** Reads wrk's `--latency` report; throws naming what is missing. */
export function parseWrk(output: string): WrkReport {
  const done = /(\d+) requests in ([\d.]+)(us|ms|s|m|h),/.exec(output);
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  if (!done || !rate) throw new Error(`wrk printed no request count or rate:\n${output}`);
  const percentile = (p: number) => {
    const m = new RegExp(`^\\s+${p}%\\s+(\\S+)\\s*$`, "m").exec(output);
    if (!m) throw new Error(`wrk printed no ${p}% latency (was it run with --latency?):\n${output}`);
    return wrkMicros(m[1] as string);
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(done[1]),
    seconds: wrkMicros(`${done[2]}${done[3]}`) / 1e6,
    requestsPerSecond: Number(rate[1]),
    latencyUs: { p50: percentile(50), p75: percentile(75), p90: percentile(90), p99: percentile(99) },
    non2xx: Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ?? 0),
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** What every request of a wrk run sends. */
export interface WrkRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Writes the Lua script that makes wrk send `request`; returns its path. */
export async function wrkScript(dir: string, request: WrkRequest): Promise<string> {
  const lua = [
    `wrk.method = ${JSON.stringify(request.method)}`,
    `wrk.body = ${JSON.stringify(request.body)}`,
    ...Object.entries(request.headers).map(([k, v]) => `wrk.headers[${JSON.stringify(k)}] = ${JSON.stringify(v)}`),
    "",
  ].join("\n");
  const path = join(dir, "request.lua");
  await writeFile(path, lua);
  return path;
}

/** Runs `wrk` with one thread against `url` for `seconds` over `connections` connections. */
export function runWrk(url: string, script: string, seconds: number, connections: number): Promise<WrkReport> {
  const args = ["-t1", `-c${connections}`, `-d${seconds}s`, "--timeout", "10s", "--latency", "-s", script, url];
  return new Promise((resolve, reject) => {
    execFile("wrk", args, { timeout: (seconds + 30) * 1000 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`wrk ${args.join(" ")}: ${err.message}\n${stderr}`));
      try {
        resolve(parseWrk(stdout));
      } catch (parseErr) {
        reject(parseErr);
      }
    });
  });
}
