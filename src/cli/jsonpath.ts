/** JSONPath as kubectl's printers show it: custom-column cells, and the message for a path they do not take. */
import { goSprint } from "../object/gofmt.js";
import { noValue } from "../object/jsonpath.js";

/** A value as a custom column prints it (Go's `fmt.Sprint`, ESC and CR made visible). */
export function columnText(value: unknown): string {
  return goSprint(value === noValue ? null : value)
    .replaceAll("\x1b", "^[")
    .replaceAll("\r", "\\r");
}

/** The message kubectl gives for a field path that `relaxedJsonPath` does not take. */
export const relaxedPathMessage =
  "unexpected path string, expected a 'name1.name2' or '.name1.name2' or '{name1.name2}' or '{.name1.name2}'";
