/** The default `User-Agent`, in the shape client-go gives it: `NAME/VERSION (OS/ARCH) RUNTIME`. */
import { readFileSync } from "node:fs";

/** Go's names for Node's architectures, so that audit logs and metrics read the same as for Go clients. */
const goArch: Readonly<Record<string, string>> = { x64: "amd64", ia32: "386", arm: "arm", arm64: "arm64" };
const goOs: Readonly<Record<string, string>> = { win32: "windows" };

function packageVersion(): string {
  try {
    // dist/src/http/ -> the package root, both in this repository and when installed under node_modules.
    const pkg: unknown = JSON.parse(readFileSync(new URL("../../../package.json", import.meta.url), "utf8"));
    const version = (pkg as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    // Bundled without its package.json: still a valid User-Agent.
    return "unknown";
  }
}

/** The package's version, from its package.json ("unknown" when bundled without it). */
export const kindwatchVersion = packageVersion();

/** `kindwatch/VERSION (OS/ARCH) node/VERSION`, e.g. `kindwatch/0.1.0 (linux/amd64) node/v22.11.0`. */
export const defaultUserAgent = `kindwatch/${kindwatchVersion} (${goOs[process.platform] ?? process.platform}/${goArch[process.arch] ?? process.arch}) node/${process.version}`;
