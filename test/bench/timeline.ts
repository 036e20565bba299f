// Where a migration's wall-clock time goes, seen from rekey's runner: for each kind of call
// (patches, list pages, etcd reads that split a page, the proof's scan, rekey's other API calls),
// the time during which at least one call of that kind was in flight, and the time during which
// none of them was (`idle`: rekey's own CPU work, waits and backoff). Intervals of one kind that
// overlap count once, so `patch` over the migration's time is the share of it the apiserver had
// rekey's rewrites to work on.

export const CALL_KINDS = ['patch', 'list', 'etcdRead', 'verify', 'otherApi'] as const;
export type CallKind = (typeof CALL_KINDS)[number];

/** Milliseconds per kind with a call in flight, and `busy`: with any call in flight. */
export type TimelineMs = Record<CallKind | 'busy', number>;

export interface Timeline {
  /** Runs `work` as a call of `kind`. */
  track<T>(kind: CallKind, work: () => Promise<T>): Promise<T>;
  /** What was accumulated so far. */
  totals(): TimelineMs;
}

export function createTimeline(now: () => number = () => performance.now()): Timeline {
  const kinds = [...CALL_KINDS, 'busy'] as const;
  const inFlight = Object.fromEntries(kinds.map((k) => [k, 0])) as Record<keyof TimelineMs, number>;
  const since = { ...inFlight };
  const total = { ...inFlight };
  const begin = (k: keyof TimelineMs) => {
    if (inFlight[k]++ === 0) since[k] = now();
  };
  const end = (k: keyof TimelineMs) => {
    if (--inFlight[k] === 0) total[k] += now() - since[k];
  };
  return {
    async track(kind, work) {
      begin(kind);
      begin('busy');
      try {
        return await work();
      } finally {
        end(kind);
        end('busy');
      }
    },
    totals() {
      const t = now();
      const out = { ...total };
      for (const k of kinds) if (inFlight[k] > 0) out[k] += t - since[k];
      return out;
    },
  };
}

/** Subtracts an earlier reading (the migration's start) from a later one. */
export function timelineBetween(before: TimelineMs, after: TimelineMs): TimelineMs {
  const out = { ...after };
  for (const k of Object.keys(out) as (keyof TimelineMs)[]) out[k] = after[k] - before[k];
  return out;
}
