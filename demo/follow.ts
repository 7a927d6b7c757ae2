/**
 * Follows what `kindwatch watch` prints: echoes each line as it comes, and lets the demo wait until a line it expects
 * has shown up, so that the demo proves what it shows rather than hoping for it.
 */
import { createInterface } from "node:readline";
import type { Readable, Writable } from "node:stream";

/** A line the demo expects from `kindwatch watch`: an object's event (stdout) or a notice (stderr). */
export type Expect = ObjectLine | Notice;

/** An event line: `TIME  EVENT  KIND  REF  SUMMARY`. */
export interface ObjectLine {
  /** ADDED, MODIFIED or DELETED. */
  readonly event: string;
  /** The kind as the CLI labels it: `Kind.group` for custom kinds. */
  readonly kind: string;
  /** `namespace/name`, or `name` when cluster-scoped. */
  readonly ref: string;
  /** Text the rest of the line must contain (e.g. `spec.replicas: 1→3`). */
  readonly shows?: string;
}

/** A notice about the watch or a kind (`watching Kind.group (new kind)`, `removed Kind.group: ...`). */
export interface Notice {
  /** What the line starts with. */
  readonly notice: string;
  /** Text the line must contain. */
  readonly shows?: string;
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: colour codes start with an escape.
const colours = /\x1b\[[0-9;]*m/g;

/** Whether `line` (colours stripped) is what `e` describes. */
export function matches(line: string, e: Expect): boolean {
  const text = line.trim();
  if ("notice" in e) return text.startsWith(e.notice) && text.includes(e.shows ?? "");
  const words = text.split(/\s+/);
  // An object line: time, event, kind, reference, summary.
  return words[1] === e.event && words[2] === e.kind && words[3] === e.ref && line.includes(e.shows ?? "");
}

/** Human text for an expectation, for errors. */
export function describe(e: Expect): string {
  const what = "notice" in e ? [e.notice] : [e.event, e.kind, e.ref];
  return [...what, e.shows && `"${e.shows}"`].filter((w) => w).join(" ");
}

/** The lines of one child process's stdout and stderr, echoed and remembered. */
export class Follower {
  readonly #lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  #ended = false;

  /** Echoes `stdout` to `out` and `stderr` to `err`, line by line. */
  constructor(stdout: Readable, stderr: Readable, out: Writable, err: Writable) {
    let open = 2;
    for (const [from, to] of [
      [stdout, out],
      [stderr, err],
    ] as const) {
      const lines = createInterface({ input: from, crlfDelay: Number.POSITIVE_INFINITY });
      lines.on("line", (line) => {
        to.write(`${line}\n`);
        this.#lines.push(line.replace(colours, ""));
        this.#wake();
      });
      lines.on("close", () => {
        open -= 1;
        if (open === 0) this.#ended = true;
        this.#wake();
      });
    }
  }

  #wake(): void {
    for (const w of this.#waiters) w();
  }

  /** How many lines have been seen so far. */
  get count(): number {
    return this.#lines.length;
  }

  /**
   * Waits until each of `expects` has matched a line seen at or after line `from`, in any order; throws naming the
   * missing ones after `ms`, or at once when the output has ended.
   */
  async expect(expects: readonly Expect[], from: number, ms: number): Promise<void> {
    const missing = () => expects.filter((e) => !this.#lines.slice(from).some((l) => matches(l, e)));
    const deadline = Date.now() + ms;
    for (;;) {
      const left = missing();
      if (left.length === 0) return;
      const wait = deadline - Date.now();
      if (wait <= 0 || this.#ended) {
        const why = this.#ended ? "kindwatch watch ended" : `not shown within ${ms / 1000} s`;
        throw new Error(`${why}: ${left.map(describe).join("; ")}`);
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, wait);
        this.#waiters.add(done);
      });
    }
  }
}
