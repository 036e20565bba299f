// Fault 1: the served rekey process is SIGKILLed mid-slice, while its step holds the provider's
// Lease (what an OOM kill or a lost node does to a function instance), and a new one is started:
// it waits out the dead holder's Lease, resumes from the checkpoint, and nothing is skipped or
// lost.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { stepLeaseHolder } from '../../faults/step-lease.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { coordinationApi } from '../../support/kube.ts';
import { waitFor } from '../../support/sandbox/net.ts';

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
    // kill a step while it holds the provider's Lease: mid-slice, not between slices. A step
    // deletes the Lease when it ends, so the Lease still there after the kill proves the kill
    // landed mid-slice; if the step ended first, a new instance is started and it is tried again
    const leases = coordinationApi(r.sb.env);
    const holderNow = () => stepLeaseHolder(leases, r.monitor.config.provider);
    r.resume();
    let tries = 0;
    let killedAt = 0;
    for (;;) {
      tries++;
      await served.gate.inFlight();
      const holder = await waitFor('a step to hold the Lease', async () => holderNow(), {
        timeoutMs: 30_000,
        intervalMs: 20,
      });
      killedAt = Date.now();
      await served.kill();
      if ((await holderNow()) === holder) break;
      assert.ok(tries < 5, `no kill of 5 landed while a step held the Lease`);
      await served.start();
    }
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
        killsUntilMidSlice: tries,
        writes: writers.record.writes,
        writeErrors: writers.record.errors,
      },
    });
  });
});
