// The rewrite engine (docs/architecture.md R4, R5, R7): pages through a resource as metadata only
// (shared/core/list-pages.ts), no-op patches each object with bounded concurrency and per-object
// retries, and checkpoints after every page, stopping at the first page boundary past its time
// budget so callers can run it in slices.
import pLimit from 'p-limit';
import {
  advanceCheckpoint,
  type ResourceCheckpoint,
  restartListing,
} from '../domain/checkpoint.ts';
import {
  addListed,
  addOutcome,
  emptyCounts,
  type MigrationCounts,
  type ObjectFailure,
  recordFailure,
} from '../domain/migration-counts.ts';
import { classifyPatch, type RewriteOutcome } from '../domain/rewrite-outcome.ts';
import type { Clock } from '../ports/clock.ts';
import type { ObjectRef, ObjectRewriter } from '../ports/object-rewriter.ts';
import { listPages } from './list-pages.ts';

export interface MigrateSliceOptions {
  rewriter: ObjectRewriter;
  checkpoint: ResourceCheckpoint;
  failures: readonly ObjectFailure[];
  clock: Clock;
  /** Epoch ms after which no new page is started. */
  deadline: number;
  /**
   * Pages rewritten before the deadline may stop the slice (default 0). A step sets 1 for its first
   * slice: when its fixed work (Lease, observation, adoption) alone outlasts the budget, it still
   * moves the migration on instead of stopping before every page, step after step.
   */
  minPages?: number;
  pageSize?: number;
  concurrency?: number;
  maxAttempts?: number;
  /** Set for a forced rewrite (a real change): the marker written into an annotation. */
  forcedMarker?: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /**
   * Objects this run writes itself (the active revision record): patching them would race our own
   * checkpoint saves, and each save already stores them under the current key. Counted as conflicts.
   */
  ownWrite?: (ref: ObjectRef) => boolean;
  /** Persists the checkpoint after each page; returning false stops the slice (lock lost). */
  onPage: (checkpoint: ResourceCheckpoint, failures: ObjectFailure[]) => Promise<boolean>;
}

export interface SliceResult {
  checkpoint: ResourceCheckpoint;
  failures: ObjectFailure[];
  stoppedBy: 'done' | 'budget' | 'aborted';
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function rewriteOne(
  o: MigrateSliceOptions,
  resource: string,
  ref: ObjectRef,
): Promise<{ outcome: RewriteOutcome; retries: number }> {
  const { maxAttempts = 5, sleep = defaultSleep } = o;
  if (o.ownWrite?.(ref)) return { outcome: 'conflict', retries: 0 };
  for (let attempt = 1; ; attempt++) {
    const result = o.forcedMarker
      ? await o.rewriter.forcedPatch(resource, ref, o.forcedMarker)
      : await o.rewriter.noOpPatch(resource, ref);
    const outcome = classifyPatch(result, {
      attempt,
      maxAttempts,
      ...(o.random ? { random: o.random } : {}),
    });
    if (typeof outcome === 'object' && 'retry' in outcome) {
      await sleep(outcome.retry);
      continue;
    }
    return { outcome, retries: attempt - 1 };
  }
}

/** Rewrites pages of `checkpoint.resource` until it is done, the budget is spent, or onPage says stop. */
export async function migrateSlice(o: MigrateSliceOptions): Promise<SliceResult> {
  const limit = pLimit(o.concurrency ?? 16);
  let checkpoint = o.checkpoint;
  let failures = [...o.failures];
  const resource = checkpoint.resource;
  let pages = 0;
  const overBudget = () => pages >= (o.minPages ?? 0) && o.clock.now().getTime() >= o.deadline;
  if (checkpoint.done) return { checkpoint, failures, stoppedBy: 'done' };
  if (overBudget()) return { checkpoint, failures, stoppedBy: 'budget' };
  const listing = listPages({
    rewriter: o.rewriter,
    resource,
    ...(checkpoint.continueToken ? { from: checkpoint.continueToken } : {}),
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    ...(o.random ? { random: o.random } : {}),
  });
  for await (const page of listing) {
    // a restarted listing rewrites its first pages twice: harmless, the counts say so
    if (page.restarted) checkpoint = restartListing(checkpoint);
    pages++;
    const results = await Promise.all(
      page.items.map((ref) => limit(() => rewriteOne(o, resource, ref))),
    );
    let counts: MigrationCounts = addListed(emptyCounts(), page.items.length);
    results.forEach(({ outcome, retries }, i) => {
      counts = { ...addOutcome(counts, outcome), retried: counts.retried + retries };
      if (typeof outcome === 'object' && 'failed' in outcome) {
        const ref = page.items[i] as ObjectRef;
        failures = recordFailure(failures, {
          resource,
          namespace: ref.namespace,
          name: ref.name,
          reason: outcome.failed,
        });
      }
    });
    checkpoint = advanceCheckpoint(checkpoint, {
      ...(page.continue ? { continueToken: page.continue } : {}),
      page: counts,
      now: o.clock.now().toISOString(),
    });
    if (!(await o.onPage(checkpoint, failures)))
      return { checkpoint, failures, stoppedBy: 'aborted' };
    if (!checkpoint.done && overBudget()) return { checkpoint, failures, stoppedBy: 'budget' };
  }
  return { checkpoint, failures, stoppedBy: 'done' };
}
