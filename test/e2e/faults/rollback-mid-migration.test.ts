// Fault 8: the key is rolled back (K2 -> K1) while the K1 -> K2 migration is mid-way, writers
// still writing. The rollback is a revision of its own: every secret must end under K1 again,
// verified from etcd, with nothing lost, whatever share had already been rewritten under K2.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { rotate, waitForKeyId } from '../../support/sandbox/sandbox.ts';
import { waitForObservation } from '../../support/settle.ts';

describe('fault: rollback K2 -> K1 mid-migration', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'rollback' });
  });
  after(async () => {
    await r?.close();
  });

  it('every secret ends under K1, verified: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve();
    const at = await r.midMigration(0.3);
    const baseline = (await r.monitor.deps.store.list(r.sb.env.kms.providerName))
      .map((s) => s.revision)
      .find((x) => x.number === 1);
    const k1 = baseline?.keyId;
    if (!k1) throw new Error('no baseline revision with its key_id');
    // rekey is held mid-way while the plugins go back to K1 and its observer sees it
    const rolledBack = await rotate({ dir: r.sb.dir, to: k1 });
    await waitForKeyId(k1, { dir: r.sb.dir });
    await waitForObservation(r.monitor, k1, 60_000);
    const progress = await r.watch(k1);
    const rolledBackAt = Date.now();

    const proof = await r.finish(
      150_000,
      async () => {
        const w = await writers.stop();
        return (key) => w.acceptable.get(key);
      },
      { keyId: k1 },
    );
    const revisions = (await r.monitor.deps.store.list(r.sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => a.number - b.number);
    const keys = revisions.map((x) => (x.keyId === k1 ? 'K1' : x.keyId === r.k2 ? 'K2' : '?'));
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '8. rollback K2 -> K1 mid-migration',
        injected: `plugins rolled back to K1 at ${at.listed}/${at.total} listed under K2 (rekey held until it observed K1)`,
        recoverSeconds: progress.recoveredAfter(rolledBackAt) ?? null,
        details: {
          revisions: keys.join(' '),
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`the plugins report K1 again (${rolledBack === k1})`]: rolledBack === k1,
        [`the rollback is a revision of its own (${keys.join(' ')})`]:
          keys.join(' ') === 'K1 K2 K1',
      },
    );
  });
});
