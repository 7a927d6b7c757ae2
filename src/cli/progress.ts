/**
 * A progress line on stderr: redrawn in place on a terminal, or printed as plain lines (at most one a second) when
 * asked for elsewhere. Writes go straight to the stream: a progress line is never worth waiting for.
 */
import type { OutStream } from "./output.js";

const clearLine = "\r\x1b[2K";

/** One line of progress that can be updated, cleared (to print something else) and finished. */
export class ProgressLine {
  readonly #stream: OutStream;
  readonly #inPlace: boolean;
  readonly #everyMs: number;
  #visible = false;
  #last = "";
  #lastAt = 0;
  #done = false;

  /** `inPlace`: redraw one line (a terminal); else print a line per change, at most one per `everyMs`. */
  constructor(stream: OutStream, inPlace: boolean, everyMs = 1000) {
    this.#stream = stream;
    this.#inPlace = inPlace;
    this.#everyMs = everyMs;
  }

  /** Shows `text` as the current progress. */
  update(text: string, now = Date.now()): void {
    if (this.#done) return;
    if (this.#inPlace) {
      if (this.#visible && text === this.#last) return;
      this.#stream.write(`${clearLine}${text}`);
      this.#visible = true;
    } else {
      if (text === this.#last || now - this.#lastAt < this.#everyMs) return;
      this.#stream.write(`${text}\n`);
      this.#lastAt = now;
    }
    this.#last = text;
  }

  /** Removes the line from a terminal so that other output starts at the beginning of a line. */
  clear(): void {
    if (this.#inPlace && this.#visible) {
      this.#stream.write(clearLine);
      this.#visible = false;
    }
  }

  /** Replaces the progress with a last line; later updates are ignored. */
  finish(text: string): void {
    if (this.#done) return;
    this.clear();
    this.#stream.write(`${text}\n`);
    this.#done = true;
  }

  /** Whether {@link finish} was called. */
  get done(): boolean {
    return this.#done;
  }
}

/** What the progress line says about the initial lists, and whether they are all in. */
export interface SyncReport {
  readonly settled: boolean;
  readonly text: string;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/**
 * The progress of the initial lists: kinds synced of kinds found. Settled once discovery has been read (`discovered`)
 * and every kind found is synced or quarantined (a quarantined kind is retried, but no longer waited for).
 */
export function syncReport(
  kinds: readonly { readonly state: string; readonly objects: number }[],
  discovered: boolean,
  elapsedMs: number,
): SyncReport {
  const synced = kinds.filter((k) => k.state === "synced").length;
  const quarantined = kinds.filter((k) => k.state === "quarantined").length;
  const objects = count(
    kinds.reduce((n, k) => n + k.objects, 0),
    "object",
  );
  const q = quarantined > 0 ? `, ${quarantined} quarantined` : "";
  if (discovered && synced + quarantined >= kinds.length) {
    const secs = (elapsedMs / 1000).toFixed(1);
    return {
      settled: true,
      text: `watching ${count(kinds.length, "kind")} (${synced} synced${q}), ${objects} listed in ${secs}s`,
    };
  }
  if (kinds.length === 0) return { settled: false, text: "finding kinds" };
  return { settled: false, text: `syncing kinds: ${synced} of ${kinds.length} synced${q}, ${objects}` };
}
