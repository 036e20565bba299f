// How many rewrites run at once: a fixed number (REKEY_CONCURRENCY=<n>), or adaptive
// (REKEY_CONCURRENCY=auto, the default): shared/domain/adaptive-concurrency.ts decides from the
// patches' own latency and the apiserver's pushback, which `measuredRewriter` feeds it. One
// limit lives as long as its process, so what a step learned holds for the next.
import pLimit from 'p-limit';
import {
  type AdaptiveConcurrency,
  type ConcurrencyBounds,
  observeConcurrency,
  sampleAnswer,
  startConcurrency,
} from '../domain/adaptive-concurrency.ts';
import type { Clock } from '../ports/clock.ts';
import type { ObjectRewriter } from '../ports/object-rewriter.ts';

export interface ConcurrencyLimit {
  /** Runs `work` when a slot is free. */
  <T>(work: () => Promise<T>): Promise<T>;
  /** The number of slots now. */
  readonly concurrency: number;
  /** Whether it adapts (and wants `observe` fed). */
  readonly adaptive: boolean;
  /** One answered patch: its latency and status ('ok' for 2xx). */
  observe(latencyMs: number, status: number | 'ok'): void;
}

/** `run` with the limit's other members; `concurrency` is read live (Object.assign would copy it). */
function asLimit(
  run: <T>(work: () => Promise<T>) => Promise<T>,
  members: { adaptive: boolean; concurrency: () => number; observe: ConcurrencyLimit['observe'] },
): ConcurrencyLimit {
  return Object.defineProperties(run, {
    adaptive: { value: members.adaptive, enumerable: true },
    observe: { value: members.observe, enumerable: true },
    concurrency: { get: members.concurrency, enumerable: true },
  }) as ConcurrencyLimit;
}

export function fixedLimit(n: number): ConcurrencyLimit {
  const limit = pLimit(n);
  return asLimit((work) => limit(work), {
    adaptive: false,
    concurrency: () => limit.concurrency,
    observe: () => {},
  });
}

export function adaptiveLimit(
  bounds?: ConcurrencyBounds,
  onChange?: (concurrency: number) => void,
): ConcurrencyLimit {
  let state: AdaptiveConcurrency = startConcurrency(bounds);
  const limit = pLimit(state.limit);
  return asLimit((work) => limit(work), {
    adaptive: true,
    concurrency: () => state.limit,
    observe(latencyMs, status) {
      const before = state.limit;
      state = observeConcurrency(state, { latencyMs, answer: sampleAnswer(status) });
      if (state.limit !== before) {
        limit.concurrency = state.limit;
        onChange?.(state.limit);
      }
    },
  });
}

/** `rewriter` with each patch's latency and answer reported to `limit`. Lists are not measured. */
export function measuredRewriter(
  rewriter: ObjectRewriter,
  limit: ConcurrencyLimit,
  clock: Clock,
): ObjectRewriter {
  if (!limit.adaptive) return rewriter;
  const timed = async <T extends { ok: true } | { ok: false; status: number }>(
    call: () => Promise<T>,
  ): Promise<T> => {
    const started = clock.now().getTime();
    const result = await call();
    limit.observe(clock.now().getTime() - started, result.ok ? 'ok' : result.status);
    return result;
  };
  return {
    listPage: (request) => rewriter.listPage(request),
    noOpPatch: (resource, ref, options) => timed(() => rewriter.noOpPatch(resource, ref, options)),
    forcedPatch: (resource, ref, marker, options) =>
      timed(() => rewriter.forcedPatch(resource, ref, marker, options)),
  };
}
