/**
 * Applying a multi-document YAML manifest with server-side apply, as `kubectl apply --server-side -f` does, plus what
 * kubectl leaves to the user: the manifest's Namespaces and CRDs go first, and its objects of those CRDs wait until
 * the API serves them.
 */
import { parseAllDocuments } from "yaml";
import { ApiError, type ApiErrorInit } from "../http/errors.js";
import { isMap } from "../object/narrow.js";
import type { KubeObject, ObjectMeta } from "../object/types.js";
import { parseApiVersion, type ResourceType } from "./gvr.js";
import type { DynamicClient } from "./resource.js";
import { sleep, waitForObject } from "./wait.js";

/**
 * Maps a kind to its resource and scope; the cluster's `RestMapper` is one. A kind the server does not serve (yet) is
 * an {@link ApiError} of kind `NotFound`.
 */
export interface KindMapper {
  /** The resource that serves `ref`'s kind (at `ref.version`, else the preferred version), or a NoMatch error. */
  resourceFor(
    ref: { readonly group: string; readonly version?: string | undefined; readonly kind: string },
    options?: { readonly signal?: AbortSignal | undefined },
  ): Promise<ResourceType>;
}

/** Options of {@link applyManifest}. */
export interface ApplyManifestOptions {
  /** The field manager of the apply (server-side apply requires one). */
  readonly fieldManager: string;
  /** Where namespaced objects that name no namespace go; default "default". */
  readonly namespace?: string | undefined;
  /** Take over fields other managers own instead of failing with a conflict. */
  readonly force?: boolean | undefined;
  readonly signal?: AbortSignal | undefined;
  /** How long the manifest's CRDs may take to be Established and served, in ms; default 60 s. */
  readonly establishTimeoutMs?: number | undefined;
}

/** One object of a manifest, applied. */
export interface AppliedObject {
  /** Which document of the manifest it came from: 1 for the first. */
  readonly document: number;
  /** The resource it was applied to, with its scope. */
  readonly resource: ResourceType;
  /** The object as the server returned it. */
  readonly object: KubeObject;
}

/** A manifest that could not be read or applied: which document, which object, why; and what was applied before. */
export class ManifestError extends ApiError {
  /** The document at fault: 1 for the first; 0 when the manifest as a whole could not be read. */
  readonly document: number;
  /** The objects applied before the failure, in the order they were applied. */
  readonly applied: readonly AppliedObject[];

  constructor(init: ApiErrorInit & { document: number; applied?: readonly AppliedObject[] }) {
    super(init);
    this.document = init.document;
    this.applied = init.applied ?? [];
  }
}

/** An object with the name server-side apply needs. */
export type NamedObject = KubeObject & { metadata: ObjectMeta & { name: string } };

/** One object of the manifest, with where it came from. */
interface Entry {
  readonly document: number;
  readonly object: NamedObject;
}

const crdGroup = "apiextensions.k8s.io";

/** `Widget demo/w1`, `Namespace demo`, for messages. */
function describeObject(obj: Record<string, unknown>): string {
  const meta = isMap(obj.metadata) ? obj.metadata : {};
  const kind = typeof obj.kind === "string" && obj.kind ? obj.kind : "(no kind)";
  const name = typeof meta.name === "string" && meta.name ? meta.name : "(no name)";
  return typeof meta.namespace === "string" && meta.namespace ? `${kind} ${meta.namespace}/${name}` : `${kind} ${name}`;
}

function invalid(document: number, what: string, message: string): ManifestError {
  return new ManifestError({
    kind: "BadRequest",
    status: 0,
    message: `document ${document}${what}: ${message}`,
    document,
  });
}

/** A `List` document's items, or the document itself; each checked for what apply needs. */
function entriesOf(document: number, value: unknown): Entry[] {
  if (value === null || value === undefined) return [];
  if (!isMap(value)) throw invalid(document, "", "not an object");
  if (value.kind === "List" && Array.isArray(value.items))
    return value.items.flatMap((item) => entriesOf(document, item));
  const what = ` (${describeObject(value)})`;
  if (typeof value.apiVersion !== "string" || !value.apiVersion) throw invalid(document, what, "no apiVersion");
  if (typeof value.kind !== "string" || !value.kind) throw invalid(document, what, "no kind");
  const meta = value.metadata;
  if (!isMap(meta) || typeof meta.name !== "string" || !meta.name) {
    throw invalid(document, what, "no metadata.name (server-side apply needs one; generateName is not enough)");
  }
  return [{ document, object: value as NamedObject }];
}

/**
 * The objects of a YAML stream, read as kubectl reads them (YAML 1.1, where `yes` and `on` are booleans, and a
 * duplicate key is an error); empty documents are skipped and a `List` stands for its items.
 */
export function parseManifest(text: string): NamedObject[] {
  return parseEntries(text).map((e) => e.object);
}

function parseEntries(text: string): Entry[] {
  const documents = parseAllDocuments(text, { version: "1.1" });
  if (!Array.isArray(documents)) return [];
  return documents.flatMap((doc, i) => {
    const error = doc.errors[0];
    if (error) throw invalid(i + 1, "", `not valid YAML: ${error.message.split("\n")[0]}`);
    return entriesOf(i + 1, doc.toJS({ maxAliasCount: 100 }));
  });
}

function isCrd(obj: KubeObject): boolean {
  return obj.kind === "CustomResourceDefinition" && parseApiVersion(obj.apiVersion).group === crdGroup;
}

/** The group and kind a CRD object defines, for matching the manifest's objects to it. */
function definedKind(crd: KubeObject): string | undefined {
  const spec = isMap(crd.spec) ? crd.spec : undefined;
  const names = spec && isMap(spec.names) ? spec.names : undefined;
  return typeof spec?.group === "string" && typeof names?.kind === "string" ? `${names.kind}.${spec.group}` : undefined;
}

/**
 * Applies every object of a manifest (YAML text, or objects) with server-side apply and returns what the server made
 * of each, in manifest order. Kinds are mapped through `mapper` from apiVersion and kind; namespaced objects without a
 * namespace go to `options.namespace`. The manifest's Namespaces and CRDs are applied first and its CRDs waited for
 * until Established and served, so that objects of them can follow in the same manifest. The first failure stops the
 * apply with a {@link ManifestError} that names the document and object, keeps the server's error kind, and lists
 * what was applied before it.
 */
export async function applyManifest(
  client: DynamicClient,
  mapper: KindMapper,
  manifest: string | readonly KubeObject[],
  options: ApplyManifestOptions,
): Promise<AppliedObject[]> {
  const entries: Entry[] =
    typeof manifest === "string"
      ? parseEntries(manifest)
      : manifest.flatMap((obj, i) => entriesOf(i + 1, obj as unknown));
  const signal = options.signal;
  const applied: AppliedObject[] = [];
  const first = entries.filter(
    (e) => isCrd(e.object) || (e.object.kind === "Namespace" && e.object.apiVersion === "v1"),
  );
  const rest = entries.filter((e) => !first.includes(e));
  const crds = first.filter((e) => isCrd(e.object));
  const newKinds = new Set(crds.map((e) => definedKind(e.object)).filter((k) => k !== undefined));

  const fail = (entry: Entry, err: unknown): ManifestError => {
    const what = `document ${entry.document} (${describeObject(entry.object)})`;
    if (!(err instanceof ApiError)) {
      const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
      return new ManifestError({
        kind: "BadRequest",
        status: 0,
        message,
        document: entry.document,
        applied,
        cause: err,
      });
    }
    return new ManifestError({
      kind: err.kind,
      status: err.status,
      message: `${what}: ${err.message}`,
      reason: err.reason,
      details: err.details,
      request: err.request,
      transient: err.transient,
      cause: err,
      document: entry.document,
      applied,
    });
  };

  const results = new Map<Entry, AppliedObject>();
  const apply = async (entry: Entry, deadline?: AbortSignal): Promise<void> => {
    const obj = entry.object;
    const { group, version } = parseApiVersion(obj.apiVersion);
    const resource = await mapWhileEstablishing({ group, version, kind: obj.kind }, deadline);
    const ns = obj.metadata.namespace || options.namespace || "default";
    const base = client.resource(resource);
    const target = resource.namespaced === false ? base : base.namespace(ns);
    const object = await target.apply(obj, {
      fieldManager: options.fieldManager,
      force: options.force,
      signal,
    });
    const result = { document: entry.document, resource, object };
    applied.push(result);
    results.set(entry, result);
  };

  /**
   * The mapping of a kind. A kind of one of the manifest's CRDs may still be missing from discovery just after the CRD
   * is Established (discovery and the CRD's handler catch up a moment later, and discovery cannot be watched): asking
   * again refreshes discovery, at most every 200 ms (the RestMapper's pace), until `deadline`.
   */
  const mapWhileEstablishing = async (
    ref: { group: string; version: string; kind: string },
    deadline: AbortSignal | undefined,
  ): Promise<ResourceType> => {
    for (let attempt = 0; ; attempt++) {
      try {
        return await mapper.resourceFor(ref, signal ? { signal } : {});
      } catch (err) {
        const waiting = deadline && !deadline.aborted && newKinds.has(`${ref.kind}.${ref.group}`);
        if (!(waiting && err instanceof ApiError && err.kind === "NotFound")) throw err;
        await sleep(Math.min(50 * 2 ** attempt, 1000), signal ? AbortSignal.any([deadline, signal]) : deadline);
      }
    }
  };

  for (const entry of first) {
    try {
      await apply(entry);
    } catch (err) {
      throw fail(entry, err);
    }
  }
  // One budget for all the manifest's CRDs: to be Established, then to show in discovery.
  const timeoutMs = options.establishTimeoutMs ?? 60_000;
  const deadlineAt = Date.now() + timeoutMs;
  const crdClient = client.resource({ group: crdGroup, version: "v1", resource: "customresourcedefinitions" });
  for (const entry of crds) {
    try {
      await waitForObject(crdClient, entry.object.metadata.name, "condition=Established", {
        timeoutMs: Math.max(0, deadlineAt - Date.now()),
        signal,
      });
    } catch (err) {
      throw fail(entry, err);
    }
  }
  const deadline = crds.length > 0 ? AbortSignal.timeout(Math.max(1, deadlineAt - Date.now())) : undefined;
  for (const entry of rest) {
    try {
      await apply(entry, deadline);
    } catch (err) {
      throw fail(entry, err);
    }
  }
  return entries.flatMap((e) => results.get(e) ?? []);
}
