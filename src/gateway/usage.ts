/**
 * LLM token totals since the gateway's boot, by profile and by key, as `/admin/v1/state` reports them. They are added up
 * from the data plane's `tokens` telemetry, the same events the token metrics count, so the two cannot disagree. Each
 * replica counts what it served: with several, a driver adds their figures up.
 */
import type { GatewayTelemetry, TokensEvent } from "./telemetry-types.js";

/** The tokens one key used through a profile. */
export interface KeyUsage {
  readonly keySet: string;
  readonly keyId: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

/** The tokens used through one profile, in all and by key (requests on open routes count in the total only). */
export interface ProfileUsage {
  readonly name: string;
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly byKey: readonly KeyUsage[];
}

/** Token totals since the boot: every live profile (at zero until used), and any used since that is gone. */
export interface UsageView {
  readonly profiles: readonly ProfileUsage[];
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

interface Tally {
  input: number;
  output: number;
}

/** Adds up the `tokens` events of the data plane. */
export class UsageTotals {
  readonly #profiles = new Map<
    string,
    Tally & { readonly keys: Map<string, Tally & { keySet: string; keyId: string }> }
  >();

  /** Counts one answer's tokens; events without a profile (none are sent today) have nowhere to go. */
  add(e: TokensEvent): void {
    if (e.profile === undefined) return;
    let profile = this.#profiles.get(e.profile);
    if (!profile) {
      profile = { input: 0, output: 0, keys: new Map() };
      this.#profiles.set(e.profile, profile);
    }
    profile.input += e.input;
    profile.output += e.output;
    if (e.keyId === undefined) return;
    const keySet = e.keySet ?? "";
    // A JSON pair cannot be confused the way "a/b" + "c" and "a" + "b/c" can.
    const id = JSON.stringify([keySet, e.keyId]);
    let key = profile.keys.get(id);
    if (!key) {
      key = { keySet, keyId: e.keyId, input: 0, output: 0 };
      profile.keys.set(id, key);
    }
    key.input += e.input;
    key.output += e.output;
  }

  /** The totals, by profile name and then by key set and key id; `live` profiles appear even before any use. */
  view(live: Iterable<string>): UsageView {
    const names = new Set([...live, ...this.#profiles.keys()]);
    const profiles = [...names].sort().map((name): ProfileUsage => {
      const p = this.#profiles.get(name);
      const byKey = [...(p?.keys.values() ?? [])]
        .map((k) => ({ keySet: k.keySet, keyId: k.keyId, inputTokens: k.input, outputTokens: k.output }))
        .sort((a, b) => compare(a.keySet, b.keySet) || compare(a.keyId, b.keyId));
      return { name, inputTokens: p?.input ?? 0, outputTokens: p?.output ?? 0, byKey };
    });
    return { profiles };
  }
}

/** `telemetry` with every `tokens` event added to `totals` as well. */
export function countingUsage(telemetry: GatewayTelemetry, totals: UsageTotals): GatewayTelemetry {
  return {
    request: (e) => telemetry.request(e),
    tokens: (e) => {
      totals.add(e);
      telemetry.tokens(e);
    },
    firstToken: (e) => telemetry.firstToken(e),
    perOutputToken: (e) => telemetry.perOutputToken(e),
    limited: (e) => telemetry.limited(e),
    streamCut: (e) => telemetry.streamCut(e),
  };
}
