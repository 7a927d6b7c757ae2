/**
 * The Dockerfile's runtime stage, without Docker: its files (what `COPY --from=build` takes, and the production
 * dependencies `npm ci --omit=dev` installs, taken from package-lock.json) laid out in a folder of their own, and its
 * ENTRYPOINT run from there: the bundle must start and serve with nothing else, no devDependency in reach.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { cp, mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CliProcess, runCli } from "../support/cli.js";
import { call } from "../support/gateway.js";
import { processTempDir } from "../support/tempdir.js";
import { waitFor } from "../support/wait.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));

interface LockEntry {
  dev?: boolean;
  link?: boolean;
}

/** The runtime stage of the Dockerfile: its `npm ci` line, what it copies from the build stage, its entrypoint. */
async function runtimeStage() {
  const text = await readFile(join(root, "Dockerfile"), "utf8");
  const stage = text.slice(text.indexOf(" AS runtime"));
  assert.ok(stage.length > 0, "a stage named runtime");
  const install = /^RUN (npm ci [^&\n]*)/m.exec(stage)?.[1]?.trim();
  const copies = [...stage.matchAll(/^COPY --from=build \/src\/(\S+) \/app\/(\S+)$/gm)].map((m) => ({
    from: m[1] as string,
    to: m[2] as string,
  }));
  const entrypoint = JSON.parse(/^ENTRYPOINT (\[.*\])$/m.exec(stage)?.[1] ?? "[]") as string[];
  return { install, copies, entrypoint };
}

describe("the image's runtime stage", () => {
  let app: string;
  let script: string;

  before(async () => {
    const stage = await runtimeStage();
    assert.equal(stage.install, "npm ci --omit=dev --ignore-scripts --no-audit --no-fund");
    // The bundle: its entry point and the chunks each command loads, side by side.
    assert.deepEqual(stage.copies, [{ from: "dist/src/cli/kindwatch*.js", to: "dist/src/cli/" }]);
    assert.equal(stage.entrypoint[0], "node");
    app = join(processTempDir("kindwatch-image"), "app");
    await mkdir(app, { recursive: true });
    for (const file of ["package.json", "package-lock.json"]) await cp(join(root, file), join(app, file));
    for (const { from, to } of stage.copies) {
      // COPY's one wildcard form used here: `dir/prefix*suffix` into a directory.
      const [dir, pattern] = [dirname(from), basename(from)];
      const [prefix = "", suffix = ""] = pattern.split("*");
      const names = (await readdir(join(root, dir))).filter((n) => n.startsWith(prefix) && n.endsWith(suffix));
      assert.ok(names.length > 1, `the build made ${pattern}: the entry point and its chunks`);
      await mkdir(join(app, to), { recursive: true });
      for (const name of names) await cp(join(root, dir, name), join(app, to, name));
    }
    // What `npm ci --omit=dev` installs: every package of the lock file that is not dev-only, copied (a symlink would
    // resolve into this repository's node_modules, where the devDependencies are).
    const lock = JSON.parse(await readFile(join(root, "package-lock.json"), "utf8")) as {
      packages: Record<string, LockEntry>;
    };
    const production = Object.entries(lock.packages).filter(([path, e]) => path.startsWith("node_modules/") && !e.dev);
    assert.ok(production.length > 0);
    for (const [path] of production) await cp(join(root, path), join(app, path), { recursive: true });
    script = join(app, (stage.entrypoint[1] ?? "").replace(/^\/app\//, ""));
  });

  it("prints its version and help", async () => {
    const version = await runCli(["--version"], { script });
    assert.equal(version.code, 0, version.stderr);
    assert.match(version.stdout, /^kindwatch \d+\.\d+\.\d+/);
    const help = await runCli(["gateway", "--help"], { script });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /--admin-token-file FILE/);
  });

  it("runs the gateway: probes answer, the admin API takes its token, SIGTERM stops it", async () => {
    const token = randomBytes(16).toString("hex");
    const tokenFile = join(app, "token");
    await writeFile(tokenFile, `${token}\n`, { mode: 0o600 });
    const gateway = new CliProcess(
      ["gateway", "--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--admin-token-file", tokenFile],
      { script, env: { NODE_ENV: "production" } },
    );
    try {
      const found = await gateway.until(
        "the gateway to listen",
        (p) => /gateway listening on (\S+), admin API on (\S+),/.exec(p.stderr) ?? undefined,
      );
      const [, url, adminUrl] = found;
      await waitFor("ready", async () => (await call(`${url}/readyz`)).status === 200);
      assert.equal((await call(`${url}/healthz`)).status, 200);
      const state = await call(`${adminUrl}/admin/v1/state`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(state.status, 200, state.text);
      assert.deepEqual(state.json?.routes, []);
    } finally {
      const stopped = await gateway.stop("SIGTERM");
      // 128 + SIGTERM, after a graceful stop, as the gateway's own CLI test expects.
      assert.equal(stopped.code, 143, stopped.stderr);
    }
  });
});
