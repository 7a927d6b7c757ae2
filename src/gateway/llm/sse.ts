/**
 * The streaming half of "honest streams": upstream SSE bytes go to the client the moment they arrive, untouched, while
 * a parser on the side follows the events (split anywhere across chunks, LF, CRLF or CR line ends, multi-line data,
 * comments) to learn the usage, whether every choice finished and whether `[DONE]` came. A stream that ends any other
 * way is a cut, and the client is told so with an error event instead of a clean end (Portkey's silent 200).
 */
import { countTokens } from "./tokens.js";
import type { StreamChunk, Usage, WireUsage } from "./wire.js";
import { wireError } from "./wire.js";

/** What `SseRelay.end` hands back. */
export interface RelayEnd {
  /** Bytes to write after all `push` returned: the close of an event left open, then an error event if cut. */
  tail: Uint8Array;
  /** The upstream's usage when it sent one, else the prompt estimate and the counted answer (`estimated: true`). */
  usage: Usage;
  /** The stream ended without `[DONE]` and every choice's `finish_reason`, or the upstream sent an error event. */
  cut: boolean;
}

const EMPTY = new Uint8Array(0);

function wireUsage(v: unknown): WireUsage | undefined {
  if (typeof v !== "object" || v === null) return undefined;
  const u = v as Record<string, unknown>;
  return typeof u.prompt_tokens === "number" && typeof u.completion_tokens === "number" ? (u as WireUsage) : undefined;
}

/** Passes an upstream SSE body through chunk by chunk, watching it: usage, `[DONE]`, a cut. */
export class SseRelay {
  readonly #model: string;
  readonly #promptTokens: () => number;
  readonly #decoder = new TextDecoder();
  /** The current line's text so far. */
  #line = "";
  /** The last chunk ended on CR: a LF opening the next one belongs to that line end. */
  #afterCR = false;
  /** `data:` lines of the event being read, and whether it has any field line yet. */
  #data: string[] = [];
  #eventOpen = false;
  #done = false;
  #errorEvent = false;
  #usage: WireUsage | undefined;
  /** Choice index -> whether its finish_reason came. */
  readonly #choices = new Map<number, boolean>();
  /** The answer's text (content, completion text, tool-call arguments), counted when no usage comes. */
  #text = "";
  /** Choice 0's text alone: the answer a session keeps. */
  #content = "";
  #ended: RelayEnd | undefined;

  readonly #onEvent: ((data: string) => void) | undefined;

  /**
   * `model` picks the tokenizer, `promptTokens` is asked only when the upstream reports no usage; `onEvent` sees each
   * event's data as it completes (e.g. the first content delta for a time-to-first-token metric).
   */
  constructor(opts: { model: string; promptTokens: () => number; onEvent?: (data: string) => void }) {
    this.#model = opts.model;
    this.#promptTokens = opts.promptTokens;
    this.#onEvent = opts.onEvent;
  }

  /** The text of the first choice's answer so far (its content deltas, or its completion text), for session history. */
  get content(): string {
    return this.#content;
  }

  /** Call per upstream chunk; returns the bytes to write now: the chunk itself, never held back. */
  push(chunk: Uint8Array): Uint8Array {
    if (this.#ended !== undefined) throw new Error("SseRelay.push after end");
    this.#scan(this.#decoder.decode(chunk, { stream: true }));
    return chunk;
  }

  /**
   * The upstream ended (no `err`) or failed (`err`): returns the bytes to write last (an SSE error event in OpenAI's
   * shape when the stream was cut, and then no `[DONE]`) and the final usage. An upstream that fails after `[DONE]`
   * and every `finish_reason` has delivered its answer: that is no cut. Later calls return the same usage, no tail.
   */
  end(err?: Error): RelayEnd {
    if (this.#ended !== undefined) return { ...this.#ended, tail: EMPTY };
    this.#scan(this.#decoder.decode());
    // Bytes that close an event the upstream left open, so that what follows is read as an event of its own.
    // After a CR a LF would only complete that line end, so the close uses CR then.
    const nl = this.#afterCR ? "\r" : "\n";
    const close = (this.#line.length > 0 ? nl : "") + (this.#line.length > 0 || this.#eventOpen ? nl : "");
    if (this.#line.length > 0) this.#lineEnd(this.#line);
    // "data: [DONE]" without its blank line: the client reads [DONE] once that line is closed, whatever follows it,
    // so the upstream's word counts; the choices' finish_reasons decide.
    if (this.#eventOpen && this.#data.join("\n") === "[DONE]") this.#done = true;
    const finished = this.#choices.size > 0 && [...this.#choices.values()].every(Boolean);
    const cut = this.#errorEvent || !this.#done || !finished;
    let tail = close.length > 0 ? new TextEncoder().encode(close) : EMPTY;
    if (cut && !this.#errorEvent) {
      const why =
        err !== undefined
          ? `the upstream failed mid-stream: ${err.message}`
          : this.#done
            ? "the upstream ended the stream before every choice finished"
            : "the upstream ended the stream without [DONE]";
      const event = wireError(why, "upstream_error", "stream_cut");
      tail = new TextEncoder().encode(`${close}data: ${JSON.stringify(event)}\n\n`);
    }
    const usage: Usage =
      this.#usage !== undefined
        ? { promptTokens: this.#usage.prompt_tokens, completionTokens: this.#usage.completion_tokens, estimated: false }
        : {
            promptTokens: this.#promptTokens(),
            completionTokens: countTokens(this.#text, this.#model),
            estimated: true,
          };
    this.#ended = { tail, usage, cut };
    return this.#ended;
  }

  #scan(text: string): void {
    let start = 0;
    if (this.#afterCR && text.length > 0) {
      if (text.charCodeAt(0) === 10) start = 1;
      this.#afterCR = false;
    }
    for (let i = start; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      this.#lineEnd(this.#line + text.slice(start, i));
      this.#line = "";
      if (c === 13) {
        if (i + 1 === text.length) this.#afterCR = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    if (start < text.length) this.#line += text.slice(start);
  }

  #lineEnd(line: string): void {
    if (line.length === 0) {
      if (this.#eventOpen) this.#dispatch();
      return;
    }
    this.#eventOpen = true;
    if (line.charCodeAt(0) === 58) return; // ":" a comment (a keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    if (field !== "data") return;
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    this.#data.push(value);
  }

  #dispatch(): void {
    const data = this.#data.join("\n");
    const hadData = this.#data.length > 0;
    this.#data = [];
    this.#eventOpen = false;
    if (!hadData || this.#done) return;
    this.#onEvent?.(data);
    if (data === "[DONE]") {
      this.#done = true;
      return;
    }
    let chunk: StreamChunk;
    try {
      chunk = JSON.parse(data) as StreamChunk;
    } catch {
      return; // not ours to judge: the client reads the same bytes
    }
    if (typeof chunk !== "object" || chunk === null) return;
    if (chunk.error !== undefined && chunk.error !== null) this.#errorEvent = true;
    const usage = wireUsage(chunk.usage);
    // The last report wins: servers that report usage on every chunk (vLLM's continuous stats) send running totals.
    if (usage !== undefined) this.#usage = usage;
    if (!Array.isArray(chunk.choices)) return;
    for (const choice of chunk.choices) {
      if (typeof choice !== "object" || choice === null) continue;
      const index = typeof choice.index === "number" ? choice.index : 0;
      if (!this.#choices.has(index)) this.#choices.set(index, false);
      if (typeof choice.finish_reason === "string") this.#choices.set(index, true);
      if (typeof choice.text === "string") {
        this.#text += choice.text;
        if (index === 0) this.#content += choice.text;
      }
      const delta = choice.delta;
      if (typeof delta !== "object" || delta === null) continue;
      if (typeof delta.content === "string") {
        this.#text += delta.content;
        if (index === 0) this.#content += delta.content;
      }
      if (Array.isArray(delta.tool_calls)) {
        for (const call of delta.tool_calls as { function?: { name?: unknown; arguments?: unknown } }[]) {
          if (typeof call?.function?.name === "string") this.#text += call.function.name;
          if (typeof call?.function?.arguments === "string") this.#text += call.function.arguments;
        }
      }
    }
  }
}
