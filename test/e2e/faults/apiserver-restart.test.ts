// Fault 3: kube-apiserver restarts mid-migration (same flags, address, port, identity). rekey's
// requests fail while it is down; it must carry on from its checkpoint once it is back.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { apiserverRestart } from '../../support/sandbox/sandbox.ts';

describe('fault: kube-apiserver restart mid-migration', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'apirestart' });
  });
  after(async () => {
    await r?.close();
  });

  it('carries on from the checkpoint once the apiserver is back: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve();
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.25);
    // held mid-way, then let go: the outage lands on a step in flight
    r.resume();
    await r.served?.gate.inFlight();
    const stoppedAt = Date.now();
    await apiserverRestart({ dir: r.sb.dir, pauseMs: 3000 });
    const readyAt = Date.now();
    const during = writers.record.errors;
    // The apiserver serves requests before its /readyz passes, and rekey may finish in between:
    // recovery counts from the last read that failed (the apiserver was down when it was sent).
    const lastDown = progress.lastReadErrorAt;
    assert.ok(
      lastDown !== undefined && lastDown >= stoppedAt,
      'the apiserver really was down (reads failed meanwhile)',
    );

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    recordAndAssert(t, r, proof, {
      fault: '3. kube-apiserver restart mid-migration',
      injected: `apiserver stopped (SIGTERM) at ${at.listed}/${at.total} listed, 3 s down, ready again after ${((readyAt - stoppedAt) / 1000).toFixed(0)} s`,
      recoverSeconds: progress.recoveredAfter(lastDown) ?? null,
      details: {
        downSeconds: Number(((readyAt - stoppedAt) / 1000).toFixed(1)),
        answeringAgainSeconds: Number(((lastDown - stoppedAt) / 1000).toFixed(1)),
        writes: writers.record.writes,
        writeErrorsUntilBack: during,
        tickFailures: [...(r.served?.tickFailures ?? [])].map(([s, n]) => `${s}x${n}`).join(' '),
      },
    });
  });
});
