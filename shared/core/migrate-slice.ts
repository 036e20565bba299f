// The rewrite engine (docs/architecture.md R4, R5, R7): pages through a resource as metadata only
// (shared/core/list-pages.ts), no-op patches each object with bounded concurrency and per-object
// retries, and checkpoints after every page, stopping at the first page boundary past its time
// budget so callers can run it in slices. Aborted (a signal, or a hard deadline on its clock), it
// stops where it stands: calls in flight cancelled, no patch started, and the page it was on left
// uncounted and unsaved, so the next slice lists it again from the last checkpoint. A page on which
// the apiserver kept failing transiently past the attempts (a brownout) is left the same way, and
// fails no object: only permanent refusals are failures (docs/architecture.md R7).
// Where etcd can be read (`skipCurrent`), each page is first split by what etcd stores
// (shared/domain/stale-split.ts): only the stale objects are patched, the others are counted as
// `alreadyCurrent`; a page etcd could not be read for is patched whole (docs/architecture.md R4).
import {
  advanceCheckpoint,
  type ResourceCheckpoint,
  restartListing,
} from '../domain/checkpoint.ts';
import {
  addAlreadyCurrent,
  addListed,
  addOutcome,
  emptyCounts,
  type MigrationCounts,
  type ObjectFailure,
  recordFailure,
} from '../domain/migration-counts.ts';
import type { RewriteOutcome } from '../domain/rewrite-outcome.ts';
import { type StaleTarget, splitStale } from '../domain/stale-split.ts';
import type { Clock } from '../ports/clock.ts';
import type { ObjectRef, ObjectRewriter } from '../ports/object-rewriter.ts';
import type { StoredEncryptionReader } from '../ports/stored-encryption.ts';
import { fixedLimit } from './concurrency-limit.ts';
import { type ListedPage, listPages } from './list-pages.ts';
import { readAhead } from './read-ahead.ts';
import { rewriteObject } from './rewrite-object.ts';

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
  /** Runs the rewrites (shared/core/concurrency-limit.ts); absent: `concurrency` fixed slots. */
  limit?: <T>(work: () => Promise<T>) => Promise<T>;
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
  /**
   * Patch only what etcd does not already store under `target` (never for a forced rewrite: its
   * key_id does not change). Absent: every listed object is patched.
   */
  skipCurrent?: SkipCurrent;
  /** Persists the checkpoint after each page; returning false stops the slice (lock lost). */
  onPage: (checkpoint: ResourceCheckpoint, failures: ObjectFailure[]) => Promise<boolean>;
  /** Aborts the slice where it stands (the step's Lease lost or its deadline passed). */
  signal?: AbortSignal;
  /**
   * Epoch ms on `clock` past which the slice aborts as if `signal` had: checked before every list
   * and patch, so the deadline holds on any clock, whether or not a timer fired.
   */
  abortAt?: number;
}

/** How a slice tells the objects etcd already stores under the key from the stale ones. */
export interface SkipCurrent {
  reader: StoredEncryptionReader;
  target: StaleTarget;
  /** etcd could not be read for a page: the page is patched whole (when in doubt, rewrite). */
  onUnreadable?: (reason: string) => void;
}

export interface SliceResult {
  checkpoint: ResourceCheckpoint;
  failures: ObjectFailure[];
  /** `unavailable`: the apiserver kept answering 429, 5xx or nothing on a page past its attempts. */
  stoppedBy: 'done' | 'budget' | 'aborted' | 'unavailable';
  /** For `unavailable`: what the apiserver last answered. */
  reason?: string;
}

/** A patch the slice did not start, or whose answer it did not wait for, once aborted. */
const ABORTED = Symbol('aborted');

/** Whether the slice must stop where it stands. */
function aborted(o: MigrateSliceOptions): boolean {
  return (
    o.signal?.aborted === true || (o.abortAt !== undefined && o.clock.now().getTime() >= o.abortAt)
  );
}

/** The listing's pages; it ends, instead of throwing, when a call was cancelled by an abort. */
async function* endsWhenAborted<T>(pages: AsyncGenerator<T>, o: MigrateSliceOptions) {
  try {
    yield* pages;
  } catch (err) {
    if (!aborted(o)) throw err;
  }
}

/** `rewriteObject`, unless the slice was aborted before it started or while it ran. */
async function rewriteUnlessAborted(
  o: MigrateSliceOptions,
  resource: string,
  ref: ObjectRef,
): Promise<{ outcome: RewriteOutcome; retries: number } | typeof ABORTED> {
  if (aborted(o)) return ABORTED;
  try {
    return await rewriteObject(o, resource, ref);
  } catch (err) {
    // a cancelled call rejects with the signal's reason: its outcome is unknown, not a failure
    if (aborted(o)) return ABORTED;
    throw err;
  }
}

/** A listed page, split by what etcd stores. */
interface SplitPage {
  page: ListedPage;
  stale: ObjectRef[];
  current: ObjectRef[];
}

/** Each page of the listing with its etcd split, until the listing ends or the slice is aborted. */
async function* splitPages(
  o: MigrateSliceOptions,
  resource: string,
  pages: AsyncIterable<ListedPage>,
): AsyncGenerator<SplitPage> {
  for await (const page of pages) {
    if (aborted(o)) return;
    yield { page, ...(await splitPage(o, resource, page.items)) };
  }
}

/**
 * Rewrites pages of `checkpoint.resource` until it is done, the budget is spent, or onPage says
 * stop. The next page is listed and split while the current one is patched
 * (shared/core/read-ahead.ts), so the apiserver is not left idle between pages; pages are still
 * patched, counted and checkpointed one after another. A slice that stops cancels the page it
 * read ahead, which the next slice lists again.
 */
export async function migrateSlice(o: MigrateSliceOptions): Promise<SliceResult> {
  const limit = o.limit ?? fixedLimit(o.concurrency ?? 16);
  let checkpoint = o.checkpoint;
  let failures = [...o.failures];
  const resource = checkpoint.resource;
  let pages = 0;
  const overBudget = () => pages >= (o.minPages ?? 0) && o.clock.now().getTime() >= o.deadline;
  if (checkpoint.done) return { checkpoint, failures, stoppedBy: 'done' };
  if (overBudget()) return { checkpoint, failures, stoppedBy: 'budget' };
  // cancels the page read ahead when the slice stops before taking it (shared/core/read-ahead.ts)
  const readingAhead = new AbortController();
  const listSignal = o.signal
    ? AbortSignal.any([o.signal, readingAhead.signal])
    : readingAhead.signal;
  const listing = listPages({
    rewriter: o.rewriter,
    resource,
    ...(checkpoint.continueToken ? { from: checkpoint.continueToken } : {}),
    ...(o.pageSize ? { pageSize: o.pageSize } : {}),
    ...(o.maxAttempts ? { maxAttempts: o.maxAttempts } : {}),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    ...(o.random ? { random: o.random } : {}),
    signal: listSignal,
  });
  // as last saved: what an aborted slice leaves behind
  let saved = { checkpoint, failures };
  const stopHere = (): SliceResult => ({ ...saved, stoppedBy: 'aborted' });
  for await (const { page, stale, current } of readAhead(
    splitPages(o, resource, endsWhenAborted(listing, o)),
    { onStop: () => readingAhead.abort(new Error('the slice stopped before this page')) },
  )) {
    if (aborted(o)) return stopHere();
    // a restarted listing rewrites its first pages twice: harmless, the counts say so
    if (page.restarted) checkpoint = restartListing(checkpoint);
    pages++;
    const done = await Promise.all(
      stale.map((ref) => limit(() => rewriteUnlessAborted(o, resource, ref))),
    );
    const results = done.filter((r) => r !== ABORTED);
    // a page cut short is neither counted nor saved: the next slice lists it again
    if (results.length < done.length) return stopHere();
    const exhausted = results.find((r) => isExhausted(r.outcome))?.outcome;
    if (exhausted && isExhausted(exhausted)) {
      // nor is a page the apiserver kept failing: done again later, from the last checkpoint
      return { ...saved, stoppedBy: 'unavailable', reason: exhausted.exhausted };
    }
    let counts: MigrationCounts = addListed(emptyCounts(), page.items.length);
    counts = addAlreadyCurrent(counts, current.length);
    results.forEach(({ outcome, retries }, i) => {
      counts = { ...addOutcome(counts, outcome), retried: counts.retried + retries };
      if (typeof outcome === 'object' && 'failed' in outcome) {
        const ref = stale[i] as ObjectRef;
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
    saved = { checkpoint, failures };
    if (!checkpoint.done && overBudget()) return { checkpoint, failures, stoppedBy: 'budget' };
  }
  // a listing that ended before its last page was cut short (a list or a wait cancelled)
  if (!checkpoint.done && aborted(o)) return stopHere();
  return { checkpoint, failures, stoppedBy: 'done' };
}

/** The page's objects to patch and those etcd already stores under the key (none without etcd). */
async function splitPage(
  o: MigrateSliceOptions,
  resource: string,
  items: ObjectRef[],
): Promise<{ stale: ObjectRef[]; current: ObjectRef[] }> {
  const skip = o.skipCurrent;
  if (!skip || items.length === 0) return { stale: items, current: [] };
  try {
    return splitStale(items, await skip.reader.read(resource, items), skip.target);
  } catch (err) {
    skip.onUnreadable?.(err instanceof Error ? err.message : String(err));
    return { stale: items, current: [] };
  }
}

function isExhausted(outcome: RewriteOutcome): outcome is { exhausted: string } {
  return typeof outcome === 'object' && 'exhausted' in outcome;
}
