// Fault 12: with two apiservers, one (apiserver 1) drops back to K1 mid-migration, long enough that
// it encrypts with K1 what clients write through it, then returns to K2. rekey must not call the
// migration done on the word of the other apiserver: it must end verified with every secret under
// K2 once apiserver 1 is back. While apiserver 1 is on K1, rekey is expected to wait (Converging).
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import type { FaultServedRekey } from '../../faults/served-rekey.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { coreApi } from '../../support/kube.ts';
import { waitFor } from '../../support/sandbox/net.ts';
import { rotate, waitForKeyId } from '../../support/sandbox/sandbox.ts';

const STALE = 1;
// writes acknowledged through the stale apiserver, and steps rekey answered, before it returns
const STALE_WRITES = 60;
const STALE_STEPS = 5;

describe('fault: one apiserver back on K1 while clients write through it', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'stale', apiservers: 2 });
  });
  after(async () => {
    await r?.close();
  });

  it('ends verified with every secret under K2 once the apiserver is back on K2', async (t) => {
    await r.serve();
    const progress = r.progress as ProgressLog;
    const gate = (r.served as FaultServedRekey).gate;
    const at = await r.midMigration(0.3);
    const k1 = (await r.monitor.deps.store.list(r.sb.env.kms.providerName))
      .map((s) => s.revision)
      .find((x) => x.number === 1)?.keyId;
    if (!k1) throw new Error('no baseline revision with its key_id');
    await rotate({ dir: r.sb.dir, to: k1, only: [STALE] });
    await waitForKeyId(k1, { dir: r.sb.dir, only: [STALE] });
    const staleAt = Date.now();
    const writers = startWriters(coreApi(r.sb.env, { apiserver: STALE }), r.seeded.slice(0, 40));
    r.track(writers.stop);
    const stepsBefore = gate.answered();
    r.resume();
    await waitFor(
      `${STALE_WRITES} writes through apiserver ${STALE} and ${STALE_STEPS} steps of rekey`,
      async () =>
        (writers.record.writes >= STALE_WRITES && gate.answered() - stepsBefore >= STALE_STEPS) ||
        undefined,
      { timeoutMs: 120_000 },
    );
    const staleWrites = writers.record.writes;
    const phaseWhileStale = (await progress.newest())?.phase;
    // recovery counts from the lift: rekey may see apiserver 1 adopt K2 and finish the little
    // left before this test's own poll of the apiservers (every 2 s) does
    const liftedAt = Date.now();
    await rotate({ dir: r.sb.dir, to: r.k2, only: [STALE] });
    await waitForKeyId(r.k2, { dir: r.sb.dir });
    const backAt = Date.now();

    const proof = await r.finish(240_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '12. one apiserver back on K1, clients writing through it',
        injected: `apiserver ${STALE} of 2 back on K1 at ${at.listed}/${at.total} listed for ${((backAt - staleAt) / 1000).toFixed(0)} s, ${staleWrites} client writes through it meanwhile`,
        recoverSeconds: progress.recoveredAfter(liftedAt) ?? null,
        details: {
          phaseWhileStale: phaseWhileStale ?? 'none',
          notUnderK2: proof.notUnderNewKey,
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`not Completed while apiserver ${STALE} wrote with K1 (${phaseWhileStale})`]:
          phaseWhileStale !== 'Completed',
      },
    );
  });
});
