// The limits the rewrite engine runs its patches under: a fixed one, and the adaptive one, which
// the measured rewriter feeds with each patch's latency and answer (lists are not measured).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  adaptiveLimit,
  type ConcurrencyLimit,
  fixedLimit,
  measuredRewriter,
} from '../../../shared/core/concurrency-limit.ts';
import type { PatchAttempt } from '../../../shared/domain/rewrite-outcome.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type { ObjectRef, ObjectRewriter } from '../../../shared/ports/object-rewriter.ts';

/** Runs `n` jobs under `limit`, each waiting for the test to release it; returns the peak. */
async function peakInFlight(
  limit: <T>(w: () => Promise<T>) => Promise<T>,
  n: number,
  onStart?: (inFlight: number) => void,
): Promise<number> {
  let inFlight = 0;
  let peak = 0;
  await Promise.all(
    Array.from({ length: n }, () =>
      limit(async () => {
        inFlight++;
        peak = Math.max(peak, inFlight);
        onStart?.(inFlight);
        await new Promise((r) => setImmediate(r));
        inFlight--;
      }),
    ),
  );
  return peak;
}

describe('concurrency limits', () => {
  it('a fixed limit keeps exactly that many in flight and ignores what it is told', async () => {
    const limit = fixedLimit(3);
    limit.observe(1, 429);
    assert.equal(limit.concurrency, 3);
    assert.equal(limit.adaptive, false);
    assert.equal(await peakInFlight(limit, 20), 3);
  });

  it('an adaptive limit starts at its start, and halving on a 429 takes effect on new work', async () => {
    const changes: number[] = [];
    const limit = adaptiveLimit({ min: 1, max: 64, start: 8 }, (n) => changes.push(n));
    assert.equal(await peakInFlight(limit, 40), 8);
    limit.observe(5, 429);
    assert.equal(limit.concurrency, 4);
    assert.deepEqual(changes, [4]);
    assert.equal(await peakInFlight(limit, 40), 4);
  });

  it('grows on rounds of steady latency, up to its ceiling', () => {
    const limit = adaptiveLimit({ min: 1, max: 12, start: 8 });
    for (let i = 0; i < 200; i++) limit.observe(10, 'ok');
    assert.equal(limit.concurrency, 12);
  });
});

describe('measuredRewriter', () => {
  const ref: ObjectRef = { namespace: 'a', name: 'b', uid: 'u', resourceVersion: '1' };
  function clockAt(times: number[]): Clock {
    return { now: () => new Date(times.shift() ?? 0) };
  }
  function rewriter(answers: PatchAttempt[]): ObjectRewriter & { lists: number } {
    const r = {
      lists: 0,
      listPage: async () => {
        r.lists++;
        return { items: [] };
      },
      noOpPatch: async () => answers.shift() as PatchAttempt,
      forcedPatch: async () => answers.shift() as PatchAttempt,
    };
    return r;
  }

  it('reports each patch: its latency on the clock and its answer, 2xx as ok', async () => {
    const seen: [number, number | 'ok'][] = [];
    // an adaptive limit that records what it is told
    const limit = Object.defineProperties(<T>(work: () => Promise<T>) => work(), {
      adaptive: { value: true },
      concurrency: { get: () => 1 },
      observe: { value: (ms: number, status: number | 'ok') => void seen.push([ms, status]) },
    }) as ConcurrencyLimit;
    const inner = rewriter([
      { ok: true, before: '1', after: '2' },
      { ok: false, status: 429, retryAfterSeconds: 1 },
    ]);
    const measured = measuredRewriter(inner, limit, clockAt([1000, 1040, 2000, 2007]));
    await measured.noOpPatch('secrets', ref);
    await measured.forcedPatch('secrets', ref, 'm');
    await measured.listPage({ resource: 'secrets', limit: 10 });
    assert.deepEqual(seen, [
      [40, 'ok'],
      [7, 429],
    ]);
    assert.equal(inner.lists, 1, 'lists pass through, unmeasured');
  });

  it('a fixed limit gets the rewriter itself, unwrapped', () => {
    const inner = rewriter([]);
    assert.equal(measuredRewriter(inner, fixedLimit(4), clockAt([])), inner);
  });
});
