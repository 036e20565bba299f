// The convergence gate on a real HA pair: when one apiserver adopts K2 a minute after the other,
// rekey rewrites nothing until both report K2, then finishes.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reconcileStep } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { untilSettled } from '../support/settle.ts';

const LAG_MS = 60_000;

describe('rekey: convergence gate with two apiservers', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('starts no rewrite before both apiservers report K2', async (t) => {
    const api = coreApi(sb.env);
    const seeded = await seedSecrets(api, 'gate', { count: 30 });
    await untilSettled(rekey, 120_000); // baseline revision for K1

    const k2 = await rotate({ dir: sb.dir, only: [0] });
    await waitForKeyId(k2, { dir: sb.dir, only: [0] });
    const aAdopted = Date.now();
    while (Date.now() - aAdopted < LAG_MS) {
      const o = await reconcileStep(rekey.deps, rekey.config);
      if (o.kind === 'step' && o.keyIdHash === keyIdHash(k2)) {
        assert.equal(
          o.step.kind,
          'wait-convergence',
          `while B is on K1: ${JSON.stringify(o.step)}`,
        );
        assert.equal(o.counts.listed, 0, 'nothing listed or rewritten');
        assert.equal(o.phase, 'Converging');
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    const etcd = await keyIdsInEtcd(sb.env, 'gate');
    assert.ok(
      [...etcd.values()].every((k) => k === 'local-1'),
      'no secret was rewritten during the lag',
    );
    for (const s of seeded) {
      const now = await api.readNamespacedSecret({
        name: s.metadata?.name ?? '',
        namespace: 'gate',
      });
      assert.equal(now.metadata?.resourceVersion, s.metadata?.resourceVersion);
    }

    await rotate({ dir: sb.dir, only: [1] });
    const steps = await untilSettled(rekey, 180_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    t.diagnostic(`completed ${((Date.now() - aAdopted) / 1000).toFixed(0)} s after A adopted K2`);
    const after = await keyIdsInEtcd(sb.env, 'gate');
    assert.ok([...after.values()].every((k) => k === k2));
  });
});
