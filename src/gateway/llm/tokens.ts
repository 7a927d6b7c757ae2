/**
 * Token counting with gpt-tokenizer's BPE encodings: o200k_base for the gpt-4o family and later (and for any model it
 * does not know, e.g. an open model served by vLLM, where every count is an estimate anyway), cl100k_base for gpt-4,
 * gpt-3.5 and the embeddings of that time.
 */
import { createRequire } from "node:module";
import type * as Encoding from "gpt-tokenizer/encoding/o200k_base";
import type { ChatMessage } from "./wire.js";

// Each encoding takes 0.3-0.6 s of CPU to load (its BPE ranks) and is ~2.5 MB of code: loaded on first use through
// require, which the CLI's bundler leaves alone (as for undici), so that commands other than the gateway pay neither.
const require = createRequire(import.meta.url);
const loaded = new Map<string, (text: string) => number>();

function encoder(name: "o200k_base" | "cl100k_base"): (text: string) => number {
  let count = loaded.get(name);
  if (count === undefined) {
    count = (require(`gpt-tokenizer/encoding/${name}`) as typeof Encoding).countTokens;
    loaded.set(name, count);
  }
  return count;
}

/** Loads both encodings now, so that no request pays for it (the gateway calls this at start). */
export function loadTokenizers(): void {
  encoder("o200k_base");
  encoder("cl100k_base");
}

/** Models on cl100k_base; "gpt-4o", "gpt-4.1" and "gpt-4.5" are o200k and so excluded by the look-ahead. */
const CL100K = /^(gpt-4(?![o.])|gpt-3\.5|text-embedding-(ada-002|3)|text-davinci-00[23]|davinci-002|babbage-002)/;

function encodingOf(model: string): (text: string) => number {
  // A provider prefix ("openai/gpt-4") does not change the encoding.
  const bare = model.slice(model.lastIndexOf("/") + 1).toLowerCase();
  return encoder(CL100K.test(bare) ? "cl100k_base" : "o200k_base");
}

/** Tokens of `text` in the encoding of `model` (o200k_base when the model is unknown). */
export function countTokens(text: string, model: string): number {
  if (text.length === 0) return 0;
  return encodingOf(model)(text);
}

/** The text of a message's content: a string, or its text parts (images and audio are not counted). */
export function contentText(content: ChatMessage["content"] | undefined): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  let text = "";
  for (const part of content) if (typeof part.text === "string") text += part.text;
  return text;
}

/**
 * An estimate of a chat request's prompt tokens as OpenAI's cookbook counts them for gpt-3.5/gpt-4/gpt-4o: 3 tokens
 * per message, the role, content and name encoded, 1 more per name, and 3 that prime the reply. Tool definitions,
 * tool calls and non-text parts are left out, so the upstream's own figure is preferred whenever it gives one.
 */
export function countChatTokens(messages: readonly ChatMessage[], model: string): number {
  const count = encodingOf(model);
  let total = 3;
  for (const m of messages) {
    total += 3 + count(m.role);
    const text = contentText(m.content);
    if (text.length > 0) total += count(text);
    if (typeof m.name === "string") total += 1 + count(m.name);
  }
  return total;
}
