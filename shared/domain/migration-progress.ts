// A revision's migration progress: one checkpoint per resource in scope, plus the objects given up
// on. The summary is what the state machine decides on.

import { type ResourceCheckpoint, startCheckpoint } from './checkpoint.ts';
import { type MigrationCounts, type ObjectFailure, sumCounts } from './migration-counts.ts';

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
