// Counting what a rewrite did, object by object, and remembering which objects failed (names and
// a short reason only: never data). Pure folds, so a page's tally is easy to test and to merge.

import type { RewriteOutcome } from './rewrite-outcome.ts';

/** Running totals of a migration (per resource, or summed over resources). */
export interface MigrationCounts {
  /** Objects returned by the metadata-only list. */
  listed: number;
  /** Patched and the resourceVersion changed: the apiserver re-encrypted the object. */
  reencrypted: number;
  /** Patched and the resourceVersion did not change: it was already under the current key. */
  unchanged: number;
  /** 409: someone wrote the object meanwhile, with the current key. Done. */
  conflicts: number;
  /** 404: deleted meanwhile. Done. */
  gone: number;
  /** Refused for good (403, 422, admission denial): recorded by name, re-patched with backoff. */
  failed: number;
  /** Attempts that will be retried (429, 5xx, network); not objects. */
  retried: number;
  /**
   * Not patched: etcd already stored it under the revision's key (read without decrypting,
   * shared/domain/stale-split.ts). Always 0 without etcd access: everything is rewritten.
   */
  alreadyCurrent: number;
}

/** An object the apiserver refused for good. `namespace` is '' for cluster-scoped objects. */
export interface ObjectFailure {
  resource?: string;
  namespace: string;
  name: string;
  reason: string;
}

/** The most failures a revision keeps by name; `counts.failed` still holds the total. */
export const MAX_RECORDED_FAILURES = 100;

const COUNT_KEYS = [
  'listed',
  'reencrypted',
  'unchanged',
  'conflicts',
  'gone',
  'failed',
  'retried',
  'alreadyCurrent',
] as const satisfies readonly (keyof MigrationCounts)[];

/** The names of the counters, in a stable order (for serialisation and metrics). */
export const MIGRATION_COUNT_KEYS: readonly (keyof MigrationCounts)[] = COUNT_KEYS;

/** All counters at zero. */
export function emptyCounts(): MigrationCounts {
  return {
    listed: 0,
    reencrypted: 0,
    unchanged: 0,
    conflicts: 0,
    gone: 0,
    failed: 0,
    retried: 0,
    alreadyCurrent: 0,
  };
}

/**
 * `counts` with one more object outcome; `{ retry }` and `{ exhausted }` count an attempt, not an
 * object (an exhausted object is tried again on a later step).
 */
export function addOutcome(counts: MigrationCounts, outcome: RewriteOutcome): MigrationCounts {
  const next = { ...counts };
  if (outcome === 'reencrypted') next.reencrypted += 1;
  else if (outcome === 'unchanged') next.unchanged += 1;
  else if (outcome === 'conflict') next.conflicts += 1;
  else if (outcome === 'gone') next.gone += 1;
  else if ('failed' in outcome) next.failed += 1;
  else next.retried += 1;
  return next;
}

/** `counts` with `n` more listed objects. */
export function addListed(counts: MigrationCounts, n: number): MigrationCounts {
  return { ...counts, listed: counts.listed + n };
}

/** `counts` with `n` more objects skipped because etcd already stored them under the key. */
export function addAlreadyCurrent(counts: MigrationCounts, n: number): MigrationCounts {
  return { ...counts, alreadyCurrent: counts.alreadyCurrent + n };
}

/** The sum of several tallies. */
export function sumCounts(all: readonly MigrationCounts[]): MigrationCounts {
  const total = emptyCounts();
  for (const c of all) for (const k of COUNT_KEYS) total[k] += c[k];
  return total;
}

/**
 * `failures` with `failure` appended, keeping only the first `max` (the count keeps the total). An
 * object already recorded keeps its place with the newer reason: a page done again, or a retry
 * pass, must not name it twice.
 */
export function recordFailure(
  failures: readonly ObjectFailure[],
  failure: ObjectFailure,
  { max = MAX_RECORDED_FAILURES }: { max?: number } = {},
): ObjectFailure[] {
  const i = failures.findIndex((f) => sameObject(f, failure));
  if (i >= 0) return failures.map((f, j) => (j === i ? failure : f));
  return failures.length >= max ? [...failures] : [...failures, failure];
}

/** Whether two failures name the same object. */
export function sameObject(a: ObjectFailure, b: ObjectFailure): boolean {
  return a.resource === b.resource && a.namespace === b.namespace && a.name === b.name;
}
