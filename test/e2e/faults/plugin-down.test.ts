// Fault 2: the KMS plugin stops mid-migration and comes back. rekey must stop rewriting (Degraded,
// recoverable) while it is down, then finish once it returns, with nothing lost.
import { after, before, describe, it } from 'node:test';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { pluginStart, pluginStop } from '../../support/sandbox/sandbox.ts';

// long enough for the key-id reporter (2 s interval) to see it and rekey to hold still a while
const HELD_DOWN_MS = 12_000;

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
    await pluginStop({ dir: r.sb.dir });
    const stoppedAt = Date.now();
    const degraded = await progress
      .waitFor('Degraded', (x) => x.phase === 'Degraded', 30_000)
      .catch(() => undefined);
    const listedWhenDegraded = degraded ? summariseProgress(degraded.progress).counts.listed : -1;
    await new Promise((res) => setTimeout(res, HELD_DOWN_MS));
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
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`Degraded "KMS plugin unhealthy" while down (${degraded?.lastError})`]:
          /KMS plugin unhealthy/.test(degraded?.lastError ?? ''),
        [`still Degraded ${HELD_DOWN_MS / 1000} s later (${held?.phase})`]:
          held?.phase === 'Degraded',
        [`no rewrite while Degraded (${listedWhenDegraded} -> ${listedHeld} listed)`]:
          listedHeld === listedWhenDegraded,
      },
    );
  });
});
