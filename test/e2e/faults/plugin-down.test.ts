// Fault 2: the KMS plugin stops mid-migration and comes back. rekey must stop rewriting (Degraded,
// recoverable) while it is down, then finish once it returns, with nothing lost.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import type { FaultServedRekey } from '../../faults/served-rekey.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { waitFor } from '../../support/sandbox/net.ts';
import { pluginStart, pluginStop } from '../../support/sandbox/sandbox.ts';

// steps let through one at a time while the plugin is down, each of which must hold still
const HELD_STEPS = 3;

describe('fault: KMS plugin down mid-migration', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'plugin' });
  });
  after(async () => {
    await r?.close();
  });

  it('holds still Degraded while the plugin is down, then completes: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve();
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.25);
    const gate = (r.served as FaultServedRekey).gate;
    await pluginStop({ dir: r.sb.dir });
    const stoppedAt = Date.now();
    // rekey stands still at the gate until its own observer reports the plugin down, so no step
    // can rewrite the rest before it sees the fault, however fast it is
    await waitFor(
      'the key-id reporter sees the plugin down',
      async () =>
        (await r.monitor.deps.observer.observe(r.monitor.config.provider)).pluginHealth.status ===
          'unhealthy' || undefined,
      { timeoutMs: 30_000 },
    );
    await gate.step();
    const degraded = await progress.newest();
    const listedWhenDegraded = degraded ? summariseProgress(degraded.progress).counts.listed : -1;
    for (let i = 0; i < HELD_STEPS; i++) await gate.step();
    const held = await progress.newest();
    const listedHeld = held ? summariseProgress(held.progress).counts.listed : -2;

    await pluginStart({ dir: r.sb.dir });
    const restartedAt = Date.now();
    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    const degradedAfter = (Date.parse(degraded?.updatedAt ?? '') - stoppedAt) / 1000;
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '2. KMS plugin down mid-migration',
        injected: `plugin stopped at ${at.listed}/${at.total} listed, started again after ${((restartedAt - stoppedAt) / 1000).toFixed(0)} s`,
        recoverSeconds: progress.recoveredAfter(restartedAt) ?? null,
        details: {
          degradedAfterSeconds: Number(degradedAfter.toFixed(1)),
          stepsWhileDown: HELD_STEPS + 1,
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`Degraded "KMS plugin unhealthy" while down (${degraded?.lastError})`]:
          /KMS plugin unhealthy/.test(degraded?.lastError ?? ''),
        [`still Degraded ${HELD_STEPS} steps later (${held?.phase})`]: held?.phase === 'Degraded',
        [`no rewrite while Degraded (${listedWhenDegraded} -> ${listedHeld} listed)`]:
          listedHeld === listedWhenDegraded,
      },
    );
  });
});
