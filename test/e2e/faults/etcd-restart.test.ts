// Fault 4: etcd restarts mid-migration (same arguments and ports, its data dir kept). The
// apiserver's requests fail while it is down; rekey must carry on from its checkpoint and the
// proof from etcd must hold afterwards.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { etcdRestart, readEnv } from '../../support/sandbox/sandbox.ts';

describe('fault: etcd restart mid-migration', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'etcdrestart' });
  });
  after(async () => {
    await r?.close();
  });

  it('carries on from the checkpoint once etcd is back: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve();
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.25);
    // held mid-way, then let go: the outage lands on a step in flight
    r.resume();
    await r.served?.gate.inFlight();
    const etcdPid = () => readEnv(r.sb.dir).processes.find((p) => p.name === 'etcd')?.pid;
    const before = etcdPid();
    const stoppedAt = Date.now();
    await etcdRestart({ dir: r.sb.dir, pauseMs: 3000 });
    const healthyAt = Date.now();
    assert.notEqual(etcdPid(), before, 'a new etcd process serves the same data dir');
    const during = writers.record.errors;

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    recordAndAssert(t, r, proof, {
      fault: '4. etcd restart mid-migration',
      injected: `etcd stopped (SIGTERM) at ${at.listed}/${at.total} listed, 3 s down, healthy again after ${((healthyAt - stoppedAt) / 1000).toFixed(0)} s`,
      recoverSeconds: progress.recoveredAfter(healthyAt) ?? null,
      details: {
        downSeconds: Number(((healthyAt - stoppedAt) / 1000).toFixed(1)),
        writes: writers.record.writes,
        writeErrorsUntilBack: during,
        tickFailures: [...(r.served?.tickFailures ?? [])].map(([s, n]) => `${s}x${n}`).join(' '),
      },
    });
  });
});
