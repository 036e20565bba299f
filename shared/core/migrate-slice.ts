// The rewrite engine (docs/architecture.md R4, R5, R7): pages through a resource as metadata only,
// no-op patches each object with bounded concurrency and per-object retries, and checkpoints after
// every page, stopping at the first page boundary past its time budget so callers can run it in
// slices.
import pLimit from 'p-limit';
import { backoffDelayMs } from '../domain/backoff.ts';
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
import type { ListPage, ObjectRef, ObjectRewriter } from '../ports/object-rewriter.ts';
import { isRetryable, retryAfterOf } from '../ports/retryable.ts';

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

/**
 * Lists one page, retrying what the rewriter declares retryable (shared/ports/retryable.ts: the
 * same statuses as a patch) with backoff, Retry-After honoured.
 */
async function listWithRetry(
  o: MigrateSliceOptions,
  resource: string,
  continueToken: string | undefined,
): Promise<ListPage> {
  const { maxAttempts = 8, sleep = defaultSleep, pageSize = 500 } = o;
  for (let attempt = 1; ; attempt++) {
    try {
      return await o.rewriter.listPage({
        resource,
        limit: pageSize,
        ...(continueToken ? { continueToken } : {}),
      });
    } catch (err) {
      if (!isRetryable(err) || attempt >= maxAttempts) throw err;
      await sleep(
        backoffDelayMs({ attempt, retryAfterSeconds: retryAfterOf(err), random: o.random }),
      );
    }
  }
}

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
  while (!checkpoint.done) {
    if (pages >= (o.minPages ?? 0) && o.clock.now().getTime() >= o.deadline) {
      return { checkpoint, failures, stoppedBy: 'budget' };
    }
    const page = await listWithRetry(o, resource, checkpoint.continueToken);
    if (page.expired) {
      // the continue token outlived etcd's compaction: list again; rewriting twice is harmless
      checkpoint = restartListing(checkpoint);
      continue;
    }
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
  }
  return { checkpoint, failures, stoppedBy: 'done' };
}
