/** What a command runs with: its command line, its output streams and colours, and the cluster, connected lazily. */
import { loadConfig } from "../config/index.js";
import { type Cluster, connect } from "../connect.js";
import { defaultCacheRoot, discoveryCacheDir } from "../discovery/disk-cache.js";
import type { Invocation } from "./args.js";
import { Output, type OutStream } from "./output.js";
import { type Style, styleFor } from "./style.js";

/** The process around the CLI: its streams, environment and the signal that asks it to stop. */
export interface Io {
  readonly stdout: OutStream;
  readonly stderr: OutStream;
  readonly env: NodeJS.ProcessEnv;
  /** Fires on SIGINT or SIGTERM, or when stdout is closed. */
  readonly signal: AbortSignal;
}

/** A command's view of the world. */
export class CommandContext {
  readonly inv: Invocation;
  readonly io: Io;
  readonly out: Output;
  readonly err: Output;
  readonly outStyle: Style;
  readonly errStyle: Style;
  #cluster: Cluster | undefined;

  constructor(inv: Invocation, io: Io) {
    this.inv = inv;
    this.io = io;
    this.out = new Output(io.stdout, io.signal);
    this.err = new Output(io.stderr, io.signal);
    this.outStyle = styleFor(io.stdout, io.env);
    this.errStyle = styleFor(io.stderr, io.env);
  }

  get signal(): AbortSignal {
    return this.io.signal;
  }

  /**
   * The cluster of `--kubeconfig`/`--context` (or the defaults), connected on first use, its discovery cached on disk
   * as kubectl caches it unless `--discovery-cache=false`.
   */
  cluster(): Cluster {
    if (this.#cluster) return this.#cluster;
    const config = loadConfig({ kubeconfig: this.inv.kubeconfig, context: this.inv.context, env: this.io.env });
    const root = this.inv.cacheDir || this.io.env.KINDWATCH_KUBE_CACHE_DIR || defaultCacheRoot(this.io.env);
    this.#cluster = connect({
      config,
      discovery: this.inv.discoveryCache ? { diskCache: { dir: discoveryCacheDir(root, config.server) } } : undefined,
      // A person is waiting: a server that refuses connections should be reported in a second, not after five tries.
      maxRetries: 2,
    });
    return this.#cluster;
  }

  /** The cluster if one was connected, for error messages. */
  get connected(): Cluster | undefined {
    return this.#cluster;
  }

  /** The namespace to use: `-n`, else the context's. */
  namespace(): string {
    return this.inv.namespace ?? this.cluster().config.namespace;
  }

  /** Writes a notice line to stderr. */
  notice(text: string): Promise<void> {
    return this.err.write(`${text}\n`);
  }

  /** Closes the cluster's connections, if any were opened. */
  async close(): Promise<void> {
    await this.#cluster?.close();
  }
}
