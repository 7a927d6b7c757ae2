/** Colours for a terminal: on only when the stream is a TTY, never when `NO_COLOR` is set. */

/** Wraps text in a colour, or returns it unchanged when colours are off. */
export type Paint = (text: string) => string;

/** The colours the CLI uses. */
export interface Style {
  readonly enabled: boolean;
  readonly red: Paint;
  readonly green: Paint;
  readonly yellow: Paint;
  readonly cyan: Paint;
  readonly dim: Paint;
  readonly bold: Paint;
}

const sgr =
  (open: number, close: number): Paint =>
  (text) =>
    `\x1b[${open}m${text}\x1b[${close}m`;
const plain: Paint = (text) => text;

/**
 * Colours for `stream`: on for a TTY (or with `FORCE_COLOR` set to anything but 0), off with `NO_COLOR` set
 * (https://no-color.org: any non-empty value, whatever else says) or `TERM=dumb`.
 */
export function styleFor(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): Style {
  const forced = env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0";
  const enabled = !env.NO_COLOR && env.TERM !== "dumb" && (forced || stream.isTTY === true);
  return {
    enabled,
    red: enabled ? sgr(31, 39) : plain,
    green: enabled ? sgr(32, 39) : plain,
    yellow: enabled ? sgr(33, 39) : plain,
    cyan: enabled ? sgr(36, 39) : plain,
    dim: enabled ? sgr(2, 22) : plain,
    bold: enabled ? sgr(1, 22) : plain,
  };
}

/** The length of `text` as it shows: colour codes take no room. */
export function visibleLength(text: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: the escape that starts a colour code is what we strip.
  return text.replace(/\x1b\[[0-9;]*m/g, "").length;
}
