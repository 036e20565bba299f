// reconcileStep cut short (shared/core/step-stop.ts): a Lease lost mid-page or a hard deadline
// passed stops the step where it stands, no new patch started, the last checkpoint kept for the
// next step; and the Lease is renewed on a timer through work that has no page boundary (the etcd
// verification). Timers are node:test's mock timers and the clock is the harness's: the tests move
// time themselves, and wait on state (a signal's abort), never on real time.

import assert from 'node:assert/strict';
import { once } from 'node:events';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { CallOptions, ObjectRef } from '../../../shared/ports/object-rewriter.ts';
import {
  asStep,
  assertNoRepeatedPatch,
  type Harness,
  rotated,
} from '../../support/unit/reconcile-harness.ts';

/** The harness's default TTL (2 x the 60 s budget) and the renewal period, a third of it. */
const TTL_MS = 120_000;
const RENEW_EVERY_MS = TTL_MS / 3;

/** Lets every promise callback queued so far run (mock timers leave setImmediate real). */
const settle = () => new Promise<void>((r) => setImmediate(r));

/** Runs `at` inside the n-th no-op patch call (1-based), before that patch goes on. */
function onPatch(h: Harness, n: number, at: (options: CallOptions | undefined) => Promise<void>) {
  const patch = h.cluster.noOpPatch.bind(h.cluster);
  let calls = 0;
  h.cluster.noOpPatch = async (resource: string, ref: ObjectRef, options?: CallOptions) => {
    calls++;
    if (calls === n) await at(options);
    return patch(resource, ref, options);
  };
  return { calls: () => calls };
}

/** Another runner takes the provider's Lease over (as if ours had lapsed). */
function takeOver(h: Harness) {
  h.lock.held.set('rekey-p', { holder: 'other-pod', expiresAt: h.clock.t + TTL_MS });
}

describe('reconcileStep: stopped where it stands', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('a Lease whose renewal fails mid-page stops the step: no patch starts after', {
    timeout: 10_000,
  }, async () => {
    const h = rotated();
    let startedAtLoss = -1;
    const patches = onPatch(h, 13, async (options) => {
      const signal = options?.signal;
      assert.ok(signal, 'the patch carries the step signal');
      signal.addEventListener('abort', () => {
        startedAtLoss = patches.calls();
      });
      takeOver(h);
      mock.timers.tick(RENEW_EVERY_MS); // the timer's renewal is refused
      if (!signal.aborted) await once(signal, 'abort');
    });

    const o = asStep(await h.step());

    assert.equal(o.stopped, 'lease-lost');
    assert.deepEqual(o.step, { kind: 'migrate' });
    assert.equal(o.more, true, 'work is left (a continuation finds the Lease busy)');
    assert.ok(startedAtLoss > 10, 'lost during the second page');
    assert.equal(patches.calls(), startedAtLoss, 'no patch started once the Lease was lost');
    assert.ok(patches.calls() < 20, `the second page was cut short: ${patches.calls()} patches`);
    const cp = h.revision(2).progress.resources[0];
    assert.equal(cp?.counts.listed, 10, 'the page cut short is not counted');
    assert.equal(cp?.continueToken, 'ns-0/s-018', 'the checkpoint of the last whole page stays');
    assert.equal(h.lock.held.get('rekey-p')?.holder, 'other-pod', 'the new holder keeps it');
  });

  it('a step past its deadline stops at once and keeps its checkpoint; the next one resumes', async () => {
    const h = rotated();
    const patches = onPatch(h, 13, async () => {
      h.clock.advance(5_000); // past the step's deadline, mid-page
    });

    const o = asStep(await h.step({ deadlineMs: 5_000 }));

    assert.equal(o.stopped, 'deadline');
    assert.deepEqual(o.step, { kind: 'migrate' });
    assert.equal(o.more, true, 'a continuation picks the work up');
    assert.ok(patches.calls() <= 14, `no patch started past the deadline: ${patches.calls()}`);
    const stored = h.revision(2);
    assert.equal(stored.phase, 'Migrating');
    assert.equal(stored.progress.resources[0]?.continueToken, 'ns-0/s-018');
    assert.equal(stored.progress.resources[0]?.counts.listed, 10);
    assert.equal(h.lock.held.size, 0, 'the Lease is released');

    const next = asStep(await h.step());
    assert.deepEqual(next.step, { kind: 'complete', verified: true });
    assert.equal(next.counts.listed, 25, 'every object counted once');
    assert.deepEqual(
      h.stepLists.at(-1),
      ['ns-0/s-018', 'ns-1/s-013'],
      'resumed from the checkpoint',
    );
    assertNoRepeatedPatch(h.cluster.patches);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('a patch that never answers is cancelled when the deadline passes', {
    timeout: 10_000,
  }, async () => {
    const h = rotated();
    const patch = h.cluster.noOpPatch.bind(h.cluster);
    let hung = 0;
    h.cluster.noOpPatch = async (resource, ref, options) => {
      if (ref.name !== 's-006') return patch(resource, ref, options);
      hung++;
      // the REST client rejects a call with its signal's reason once aborted, and only then
      const signal = options?.signal;
      assert.ok(signal);
      queueMicrotask(() => mock.timers.tick(90_000)); // budget + margin
      await once(signal, 'abort');
      throw signal.reason;
    };

    const o = asStep(await h.step());

    assert.equal(hung, 1);
    assert.equal(o.stopped, 'deadline');
    assert.equal(o.more, true);
    assert.equal(h.revision(2).progress.resources[0]?.counts.listed ?? 0, 0, 'nothing counted');
    assert.equal(h.lock.held.size, 0, 'the Lease is released');
  });
});

describe('reconcileStep: a checkpoint renewal without an answer', () => {
  it('is no loss: the step goes on, and the lapse timer would say when it is one', async () => {
    const h = rotated();
    const renew = h.lock.renew.bind(h.lock);
    let failed = 0;
    h.lock.renew = async (handle, ttlMs) => {
      if (failed++ === 0) throw Object.assign(new Error('connect ETIMEDOUT'), { code: 0 });
      return renew(handle, ttlMs);
    };
    const o = asStep(await h.step());
    assert.ok(failed > 1, 'renewed again after the failure');
    assert.equal(o.stopped, undefined);
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.counts.listed, 25);
  });
});

describe('reconcileStep: the Lease through work without pages', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('the timer renews the Lease during a long verification', async () => {
    const h = rotated({ objects: 6 });
    const verifier = h.deps.verifier;
    assert.ok(verifier);
    const scan = verifier.scan.bind(verifier);
    const renewals = () => h.lock.calls.filter((c) => c.startsWith('renew:')).length;
    let during = 0;
    verifier.scan = async (request) => {
      const before = renewals();
      // a scan of a large etcd that lasts longer than the TTL (160 s against 120 s)
      for (let t = 0; t < 4; t++) {
        mock.timers.tick(RENEW_EVERY_MS);
        await settle();
      }
      during = renewals() - before;
      return scan(request);
    };

    // a deadline beyond the scan: this step is only about the Lease
    const o = asStep(await h.step({ deadlineMs: 600_000 }));

    assert.equal(during, 4, 'renewed every third of the TTL while the scan ran');
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.stopped, undefined);
  });

  it('a Lease lost during verification ends the step before it completes anything', async () => {
    const h = rotated({ objects: 6 });
    const verifier = h.deps.verifier;
    assert.ok(verifier);
    const scan = verifier.scan.bind(verifier);
    verifier.scan = async (request) => {
      takeOver(h);
      mock.timers.tick(RENEW_EVERY_MS);
      await settle();
      return scan(request);
    };

    const o = asStep(await h.step());

    assert.equal(o.stopped, 'lease-lost');
    assert.notEqual(
      h.revision(2).phase,
      'Completed',
      'no completion by a runner without the Lease',
    );
    assert.ok(!h.events.some((e) => e.type === 'migration.completed'));
  });
});
