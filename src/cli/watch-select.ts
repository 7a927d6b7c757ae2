/** Which kinds `kindwatch watch` watches: the kinds named on its command line, resolved as kubectl resolves them. */
import type { Cluster } from "../connect.js";
import type { KindFilter, KindInfo } from "../watchall/types.js";
import type { CommandContext } from "./context.js";
import { CliError } from "./errors.js";
import { resolveKind } from "./resolve.js";

/** Which kinds to watch: the engine's include filter, and an exact check on what it delivers. */
export interface Selection {
  readonly include?: KindFilter;
  readonly allResources: boolean;
  /** The engine's filter names resources without their group; this keeps only the groups the user named. */
  accepts(kind: Pick<KindInfo, "group" | "resource">): boolean;
}

/**
 * The kinds the user named (`words`, default the command's arguments), resolved as kubectl does. Each named kind is listed once first, so that a kind the user
 * may not read fails here with the server's reason instead of waiting in quarantine.
 */
export async function selection(
  ctx: CommandContext,
  cluster: Cluster,
  words: readonly string[] = ctx.inv.args,
): Promise<Selection> {
  if (words.length === 0) return { allResources: ctx.inv.allResources, accepts: () => true };
  const kinds: string[] = [];
  const categories: string[] = [];
  const groupsByResource = new Map<string, Set<string>>();
  for (const arg of words.flatMap((a) => a.split(",")).filter((a) => a)) {
    const resolution = await resolveKind(cluster, arg, ctx.signal);
    if (resolution.category) {
      categories.push(resolution.category);
      continue;
    }
    for (const r of resolution.resources) {
      const name = `${r.resource}${r.group ? `.${r.group}` : ""}`;
      if (!r.verbs.includes("watch") || !r.verbs.includes("list")) {
        throw new CliError(`${name} cannot be watched: the server offers no list and watch for it`);
      }
      if (ctx.inv.namespace && !r.namespaced) {
        throw new CliError(`${name} is cluster-scoped: -n/--namespace does not apply to it; watch it without -n`);
      }
      const base = cluster.resource(r);
      const client = ctx.inv.namespace ? base.namespace(ctx.inv.namespace) : base;
      await client.list({ limit: 1, signal: ctx.signal });
      kinds.push(r.resource);
      const groups = groupsByResource.get(r.resource) ?? new Set<string>();
      groups.add(r.group);
      groupsByResource.set(r.resource, groups);
    }
  }
  return {
    include: { kinds, categories },
    // Named kinds are watched whether built in or not.
    allResources: true,
    accepts: (k) => groupsByResource.get(k.resource)?.has(k.group) ?? true,
  };
}
