// A revision's migration progress: one checkpoint per resource in scope, plus the objects refused
// for good. The summary is what the state machine decides on; a retry pass (docs/architecture.md
// R13) settles, refuses again or lists again what kept it from completing.

import { type ResourceCheckpoint, restartListing, startCheckpoint } from './checkpoint.ts';
import {
  addOutcome,
  type MigrationCounts,
  type ObjectFailure,
  recordFailure,
  sameObject,
  sumCounts,
} from './migration-counts.ts';

/** Progress of a revision's rewrite. No resources = the migration has not started. */
export interface MigrationProgress {
  resources: ResourceCheckpoint[];
  /** Objects given up on (names and reasons only), capped; the counts keep the total. */
  failed: ObjectFailure[];
}

/** What the state machine needs to know about a migration. */
export interface MigrationSummary {
  /** Every resource in scope has been listed to the end and rewritten. */
  done: boolean;
  counts: MigrationCounts;
  failed: readonly ObjectFailure[];
  /** When the last resource finished, once done. */
  finishedAt?: string;
}

/** Progress before anything started. */
export function emptyProgress(): MigrationProgress {
  return { resources: [], failed: [] };
}

/** Progress for a migration of `resources` (e.g. `['secrets']`) that starts now. */
export function startProgress(resources: readonly string[]): MigrationProgress {
  return { resources: [...new Set(resources)].map(startCheckpoint), failed: [] };
}

/** Sums a migration's progress: done only when it has resources and all of them are done. */
export function summariseProgress(progress: MigrationProgress): MigrationSummary {
  const done = progress.resources.length > 0 && progress.resources.every((r) => r.done);
  const summary: MigrationSummary = {
    done,
    counts: sumCounts(progress.resources.map((r) => r.counts)),
    failed: progress.failed,
  };
  if (done) {
    let last: string | undefined;
    for (const { finishedAt } of progress.resources) {
      if (finishedAt === undefined) continue;
      if (last === undefined || Date.parse(finishedAt) > Date.parse(last)) last = finishedAt;
    }
    if (last !== undefined) summary.finishedAt = last;
  }
  return summary;
}

/**
 * Progress widened to `resources`: a resource in scope without a checkpoint (added to the
 * configuration later, or whose checkpoint could not be parsed) joins, not done; the others keep
 * theirs. Returns the same object when nothing joins.
 */
export function widenProgress(
  progress: MigrationProgress,
  resources: readonly string[],
): MigrationProgress {
  const have = new Set(progress.resources.map((r) => r.resource));
  const joining = [...new Set(resources)].filter((r) => !have.has(r));
  if (joining.length === 0) return progress;
  return { ...progress, resources: [...progress.resources, ...joining.map(startCheckpoint)] };
}

/** An object a retry pass re-patched, by name. `namespace` is '' when cluster-scoped. */
export interface ObjectName {
  resource: string;
  namespace: string;
  name: string;
}

/**
 * Progress after a retry pass settled an object (re-encrypted, already current, written meanwhile,
 * gone): a failure naming it is forgotten, and its resource's counts move it from failed to what
 * happened, so the revision can complete once nothing else is left.
 */
export function settleObject(
  progress: MigrationProgress,
  object: ObjectName,
  outcome: 'reencrypted' | 'unchanged' | 'conflict' | 'gone',
): MigrationProgress {
  const named = progress.failed.some((f) => sameObject(f, { ...object, reason: '' }));
  return {
    resources: progress.resources.map((cp) => {
      if (cp.resource !== object.resource) return cp;
      const counts = addOutcome(cp.counts, outcome);
      if (named) counts.failed = Math.max(0, counts.failed - 1);
      return { ...cp, counts };
    }),
    failed: named
      ? progress.failed.filter((f) => !sameObject(f, { ...object, reason: '' }))
      : progress.failed,
  };
}

/** Progress after a retry pass was refused an object again (or, for an offender, for the first time). */
export function refuseObject(
  progress: MigrationProgress,
  object: ObjectName,
  reason: string,
): MigrationProgress {
  const failure: ObjectFailure = { ...object, reason };
  const named = progress.failed.some((f) => sameObject(f, failure));
  return {
    resources: named
      ? progress.resources
      : progress.resources.map((cp) =>
          cp.resource === object.resource
            ? { ...cp, counts: { ...cp.counts, failed: cp.counts.failed + 1 } }
            : cp,
        ),
    failed: recordFailure(progress.failed, failure),
  };
}

/**
 * Progress with `resources` listed again from the start, for a retry pass whose names were capped:
 * their failures are judged afresh by the new listing (a failure that named no resource goes too).
 */
export function relistResources(
  progress: MigrationProgress,
  resources: readonly string[],
): MigrationProgress {
  const again = new Set(resources);
  if (again.size === 0) return progress;
  return {
    resources: progress.resources.map((cp) =>
      again.has(cp.resource) ? { ...restartListing(cp), counts: { ...cp.counts, failed: 0 } } : cp,
    ),
    failed: progress.failed.filter((f) => f.resource !== undefined && !again.has(f.resource)),
  };
}
