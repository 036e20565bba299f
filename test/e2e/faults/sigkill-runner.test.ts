// Fault 1: the served rekey process is SIGKILLed mid-slice (what an OOM kill or a lost node does
// to a function instance) and a new one is started: it waits out the dead holder's Lease, resumes
// from the checkpoint, and nothing is skipped or lost.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';

describe('fault: SIGKILL of the runner mid-slice', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'kill' });
  });
  after(async () => {
    await r?.close();
  });

  it('a new instance resumes from the checkpoint: completes, nothing skipped or lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    const served = await r.serve();
    const at = await r.midMigration(0.3);
    // let one step start, then kill it while it is in flight: mid-slice, not between slices
    r.resume();
    await served.gate.inFlight();
    const killedAt = Date.now();
    await served.kill();
    const left = await (r.progress as ProgressLog).newest();
    assert.equal(left?.phase, 'Migrating', 'killed mid-migration');
    assert.ok(
      left?.progress.resources.some((c) => c.continueToken),
      'the killed runner left a continue token to resume from',
    );
    await served.start();
    const restartedAt = Date.now();

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    const recover = (r.progress as ProgressLog).recoveredAfter(killedAt);
    recordAndAssert(t, r, proof, {
      fault: '1. SIGKILL of the runner mid-slice',
      injected: `SIGKILL of the reconcile function at ${at.listed}/${at.total} listed, new instance started at once`,
      recoverSeconds: recover ?? null,
      details: {
        restartSeconds: Number(((restartedAt - killedAt) / 1000).toFixed(1)),
        writes: writers.record.writes,
        writeErrors: writers.record.errors,
      },
    });
  });
});
