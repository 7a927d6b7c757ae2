/** Why a name, kind or resource could not be mapped: errors with a kind, like every error of the library. */
import { qualifiedName } from "../client/gvr.js";
import { ApiError } from "../http/errors.js";
import type { ApiResource } from "./types.js";

/** Nothing the server serves matches (kind `NotFound`, so `isNotFound` holds); `suggestions` says what is close. */
export class NoMatchError extends ApiError {
  /** What was asked for, as typed or as `resource.version.group` / `Kind.version.group`. */
  readonly input: string;
  /** The closest names that do resolve, best first: for "did you mean". */
  readonly suggestions: readonly string[];

  constructor(input: string, message: string, suggestions: readonly string[] = []) {
    super({ kind: "NotFound", status: 0, message });
    this.input = input;
    this.suggestions = suggestions;
  }
}

/** More than one resource matches and none is preferred over the others (kind `BadRequest`): the user must pick. */
export class AmbiguousError extends ApiError {
  readonly input: string;
  /** Every match, each at the best version that matched, in the server's group order. */
  readonly matches: readonly ApiResource[];

  constructor(input: string, matches: readonly ApiResource[]) {
    const names = matches.map(qualifiedName);
    super({
      kind: "BadRequest",
      status: 0,
      message: `"${input}" matches ${names.join(", ")}: name one with its group, e.g. "${names[0] ?? ""}"`,
    });
    this.input = input;
    this.matches = matches;
  }
}

export { qualifiedName };
