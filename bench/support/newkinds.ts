/**
 * Timing new kinds across processes: the parent creates each CRD and, once it is Established, an object of its kind;
 * each implementation's process reports when it saw the CRD Established, when the kind synced and when the kind's
 * first object event was delivered. Every time is CLOCK_MONOTONIC in milliseconds (Node.js's `process.hrtime`, Go's
 * `clock_gettime(CLOCK_MONOTONIC)`): one clock for every process of the machine.
 */

/** CLOCK_MONOTONIC in milliseconds. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** What an implementation's process reports about each new kind, by group. */
export class Timeline {
  /** The implementation saw the kind's CRD Established. */
  readonly established = new Map<string, number>();
  /** KIND_SYNCED delivered (kindwatch), the kind's informer synced (client-go). */
  readonly synced = new Map<string, number>();
  /** The kind's first object event was delivered. */
  readonly event = new Map<string, number>();

  /** Records a line `{"group", WHAT: ms}` of a child's; the first report of each wins. False if it is not one. */
  take(line: Record<string, unknown>): boolean {
    const group = line.group;
    if (typeof group !== "string") return false;
    let taken = false;
    for (const what of ["established", "synced", "event"] as const) {
      const at = line[what];
      if (typeof at !== "number") continue;
      if (!this[what].has(group)) this[what].set(group, at);
      taken = true;
    }
    return taken;
  }
}

/** A new kind's figures, one value per kind, in the order of the groups given. */
export interface NewKindTimes {
  /** Established seen -> synced: the implementation's own part of starting a kind. */
  readonly synced: number[];
  /** The server answered the object's create -> the implementation delivered its event (negative: the event came first). */
  readonly afterCreate: number[];
  /** Established seen -> the first event: the whole wait, most of it the server's hold on a new kind's first create. */
  readonly total: number[];
  /** Established seen -> the create answered: the server's part. */
  readonly create: number[];
}

/**
 * Per group, the intervals of a {@link Timeline} and the parent's create times; throws naming the first group whose
 * report is missing, since a figure over fewer kinds than asked would pass unnoticed.
 */
export function newKindTimes(
  groups: readonly string[],
  t: Timeline,
  createdAt: ReadonlyMap<string, number>,
): NewKindTimes {
  const out: NewKindTimes = { synced: [], afterCreate: [], total: [], create: [] };
  for (const group of groups) {
    const established = t.established.get(group);
    const synced = t.synced.get(group);
    const event = t.event.get(group);
    const created = createdAt.get(group);
    if (established === undefined || synced === undefined || event === undefined || created === undefined) {
      const missing = [
        ["established", established],
        ["synced", synced],
        ["event", event],
        ["created", created],
      ].find(([, v]) => v === undefined)?.[0];
      throw new Error(`no ${missing} time for ${group}`);
    }
    out.synced.push(synced - established);
    out.afterCreate.push(event - created);
    out.total.push(event - established);
    out.create.push(created - established);
  }
  return out;
}
