// Rotation while the KMS plugin is down: rekey records the new key, then waits in a recoverable
// Degraded phase, rewriting nothing once it knows the plugin is down, and finishes once the plugin
// is back; nothing is lost.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reconcileStep } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { pluginStart, pluginStop, rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';
import { untilSettled } from '../support/settle.ts';

const DOWN_MS = 30_000;

describe('rekey: rotation while the KMS plugin is down', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  before(async () => {
    sb = await startSandbox();
    seeded = await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 50, prefix: 'down' });
    rekey = rekeyFor(sb.env);
    await untilSettled(rekey, 120_000);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('waits Degraded while the plugin is down, then completes with nothing lost', async (t) => {
    const k2 = await rotate({ dir: sb.dir });
    // the first step that sees K2 records its revision (small pages: should the apiserver have
    // adopted K2 already, that step rewrites one page of 10, and most objects stay under K1)
    const recorded = Date.now();
    for (;;) {
      const o = await reconcileStep(rekey.deps, { ...rekey.config, budgetMs: 1, pageSize: 10 });
      if (o.kind === 'step' && o.keyIdHash === keyIdHash(k2)) break;
      assert.ok(Date.now() - recorded < 30_000, 'K2 was never observed');
      await new Promise((r) => setTimeout(r, 500));
    }
    await pluginStop({ dir: sb.dir });
    const stopped = Date.now();
    // waited on state: rekey's observer knows the plugin is down (a reporter tick or two)
    await waitFor(
      'the plugin reported down',
      async () =>
        (await rekey.deps.observer.observe(rekey.config.provider)).pluginHealth.status ===
          'unhealthy' || undefined,
      { timeoutMs: 30_000 },
    );
    const before = await keyIdsInEtcd(sb.env, 'down-0');
    assert.ok(
      [...before.values()].some((k) => k === 'local-1'),
      'objects under K1 remain to be rewritten (else this test proves nothing)',
    );
    let degradedSteps = 0;
    while (Date.now() - stopped < DOWN_MS) {
      const o = await reconcileStep(rekey.deps, rekey.config);
      assert.ok(o.kind === 'step', JSON.stringify(o));
      assert.equal(o.phase, 'Degraded', JSON.stringify(o));
      assert.match('reason' in o.step ? o.step.reason : '', /KMS plugin unhealthy/);
      assert.equal(o.more, true, 'recoverable: more work remains');
      degradedSteps++;
      await new Promise((r) => setTimeout(r, 3000));
    }
    assert.ok(degradedSteps >= 3);
    const during = await keyIdsInEtcd(sb.env, 'down-0');
    assert.deepEqual(
      [...during.entries()].sort(),
      [...before.entries()].sort(),
      'nothing rewritten while the plugin was down',
    );

    await pluginStart({ dir: sb.dir });
    const steps = await untilSettled(rekey, 240_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    t.diagnostic(
      `completed ${((Date.now() - stopped) / 1000).toFixed(0)} s after the plugin stopped`,
    );
    const api = coreApi(sb.env);
    for (const s of seeded) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      assert.equal(now.data?.value, s.value, `${s.namespace}/${s.name} intact`);
    }
  });
});
