// One object's rewrite with its attempts (docs/architecture.md R4, R7), for the retry pass
// (shared/core/retry-objects.ts) and the slice engine (shared/core/migrate-slice.ts): a no-op patch (or the forced one), retried with backoff on
// transient answers until done, refused for good, or exhausted; classifyPatch judges each answer,
// as it does for the slice engine's pages.
import { classifyPatch, type RewriteOutcome } from '../domain/rewrite-outcome.ts';
import type { ObjectRef, ObjectRewriter } from '../ports/object-rewriter.ts';
import { untilAborted } from './until-aborted.ts';

export interface RewriteObjectOptions {
  rewriter: ObjectRewriter;
  /** Attempts before a transient answer ends them as `exhausted` (default 5). */
  maxAttempts?: number;
  /** Set for a forced rewrite (a real change): the marker written into an annotation. */
  forcedMarker?: string;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Objects this run writes itself (the active revision record): counted as conflicts. */
  ownWrite?: (ref: ObjectRef) => boolean;
  /** Cancels the call in flight and the wait between attempts (the step stopped). */
  signal?: AbortSignal;
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** What an object came to in this pass: anything but another attempt. */
export type FinalOutcome = Exclude<RewriteOutcome, { retry: number }>;

/** The object's final outcome for this pass and how many attempts were retried on the way. */
export async function rewriteObject(
  o: RewriteObjectOptions,
  resource: string,
  ref: ObjectRef,
): Promise<{ outcome: FinalOutcome; retries: number }> {
  const { maxAttempts = 5, sleep = defaultSleep } = o;
  if (o.ownWrite?.(ref)) return { outcome: 'conflict', retries: 0 };
  const call = o.signal ? { signal: o.signal } : {};
  for (let attempt = 1; ; attempt++) {
    o.signal?.throwIfAborted();
    const result = o.forcedMarker
      ? await o.rewriter.forcedPatch(resource, ref, o.forcedMarker, call)
      : await o.rewriter.noOpPatch(resource, ref, call);
    const outcome = classifyPatch(result, {
      attempt,
      maxAttempts,
      ...(o.random ? { random: o.random } : {}),
    });
    if (typeof outcome === 'object' && 'retry' in outcome) {
      await untilAborted(sleep(outcome.retry), o.signal);
      continue;
    }
    return { outcome, retries: attempt - 1 };
  }
}
