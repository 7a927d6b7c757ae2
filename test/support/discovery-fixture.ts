/** The discovery documents captured from a real kube-apiserver 1.35 (see the file's `captured` field). */
import { readFileSync } from "node:fs";

/** What test/fixtures/discovery-1.35.json holds. */
export interface DiscoveryFixture {
  readonly captured: string;
  readonly aggregated: { readonly api: unknown; readonly apis: unknown };
  /** Each legacy endpoint's answer by path, or `{ error }` where it failed. */
  readonly legacy: Readonly<Record<string, unknown>>;
}

/** Reads the fixture from the source tree (tests run from dist/test/...). */
export function discoveryFixture(): DiscoveryFixture {
  const url = new URL("../../../test/fixtures/discovery-1.35.json", import.meta.url);
  return JSON.parse(readFileSync(url, "utf8")) as DiscoveryFixture;
}
