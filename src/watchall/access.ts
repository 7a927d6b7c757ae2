/** Asking the API server, before watching a kind, whether we may: one SelfSubjectAccessReview per verb. */
import type { Transport } from "../http/transport.js";
import { groupResource } from "./types.js";

const reviewsPath = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";

/** What is asked about: a resource, in one namespace or cluster-wide. */
export interface AccessQuestion {
  readonly group: string;
  readonly resource: string;
  readonly namespace?: string | undefined;
}

async function allowed(
  transport: Transport,
  q: AccessQuestion,
  verb: string,
  signal: AbortSignal,
): Promise<string | undefined> {
  const review = (await transport.json({
    method: "POST",
    path: reviewsPath,
    body: {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: {
        resourceAttributes: {
          group: q.group,
          resource: q.resource,
          verb,
          // JSON leaves it out when undefined: a cluster-wide question.
          namespace: q.namespace || undefined,
        },
      },
    },
    signal,
  })) as { status?: { allowed?: unknown; reason?: unknown; evaluationError?: unknown } } | undefined;
  if (review?.status?.allowed === true) return undefined;
  const why = [review?.status?.reason, review?.status?.evaluationError].filter((s) => typeof s === "string" && s);
  const where = q.namespace ? ` in namespace ${q.namespace}` : " in all namespaces";
  return `forbidden: cannot ${verb} ${groupResource(q)}${where}${why.length ? ` (${why.join("; ")})` : ""}`;
}

/**
 * Why we may not list and watch: a reason, or undefined when both are allowed. A failed review (no authorization
 * API, not allowed to create reviews) throws, and the caller lets the list itself tell.
 */
export async function accessDenied(
  transport: Transport,
  q: AccessQuestion,
  signal: AbortSignal,
): Promise<string | undefined> {
  const answers = await Promise.all(["list", "watch"].map((verb) => allowed(transport, q, verb, signal)));
  return answers.find((a) => a !== undefined);
}
