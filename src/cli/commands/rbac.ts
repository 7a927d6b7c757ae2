/**
 * `kindwatch rbac`: the least read-only RBAC under which `kindwatch watch` (and the watch-all engine) with the same
 * kinds and namespace flags watches every kind it selects, computed from the server's discovery as the engine reads it.
 */
import { type RbacRule, watchAllRules } from "../../watchall/rbac.js";
import type { CommandContext } from "../context.js";
import { CliError } from "../errors.js";
import { exitOk } from "../exit.js";
import { prettyJson, yamlPrinter } from "../output.js";
import { selection } from "../watch-select.js";

const rbacApiVersion = "rbac.authorization.k8s.io/v1";
const defaultName = "kindwatch-watch";
/** An RBAC object's name: a DNS subdomain (RFC 1123), as the API server checks it. */
const dnsSubdomain = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function roleObject(kind: "ClusterRole" | "Role", name: string, rules: readonly RbacRule[], namespace?: string) {
  return {
    apiVersion: rbacApiVersion,
    kind,
    metadata: namespace === undefined ? { name } : { name, namespace },
    rules,
  };
}

/** Runs `kindwatch rbac`. */
export async function rbacCommand(ctx: CommandContext): Promise<number> {
  const { inv, signal } = ctx;
  const name = inv.name ?? defaultName;
  if (name.length > 253 || !dnsSubdomain.test(name)) {
    throw new CliError(
      `--name ${JSON.stringify(name)} is not a valid RBAC name: use lowercase letters, digits, - and .`,
    );
  }
  const cluster = ctx.cluster();
  // The engine reads discovery afresh when it starts; a cached copy could miss kinds it will watch.
  const discovery = await cluster.discovery.refresh({ signal });
  // Only resolved: whoever prints the rules need not be allowed to read what they grant.
  const selected = await selection(ctx, cluster, { probe: false });
  const include = inv.namespace ? { ...selected.include, namespaces: [inv.namespace] } : selected.include;
  const rules = watchAllRules(discovery, { include, allResources: selected.allResources });
  const objects = [
    roleObject("ClusterRole", name, rules.cluster),
    ...(rules.namespace ? [roleObject("Role", name, rules.namespace.rules, rules.namespace.name)] : []),
  ];
  if (inv.output === "json") {
    const only = objects.length === 1 ? objects[0] : { apiVersion: "v1", kind: "List", items: objects };
    await ctx.out.write(prettyJson(only));
  } else {
    const toYaml = await yamlPrinter();
    await ctx.out.write(objects.map((o) => `---\n${toYaml(o)}`).join(""));
  }
  return exitOk;
}
