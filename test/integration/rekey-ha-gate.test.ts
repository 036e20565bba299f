// The convergence gate on a real HA pair: when one apiserver adopts K2 a minute after the other,
// rekey rewrites nothing until both report K2, then finishes. With the default settings (no
// REKEY_APISERVER_URLS: each apiserver found in the `kubernetes` EndpointSlice), so the file runs
// in a private network where the apiservers advertise non-loopback addresses; rekey with the
// explicit list holds the gate alike.
import '../support/sandbox/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { reconcileStep } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { untilSettled } from '../support/settle.ts';

const LAG_MS = 60_000;

describe('rekey: convergence gate with two apiservers', () => {
  let sb: TestSandbox;
  /** The default settings: the apiservers discovered. */
  let rekey: RekeyUnderTest;
  /** REKEY_APISERVER_URLS listing both apiservers. */
  let listed: RekeyUnderTest;
  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
    rekey = rekeyFor(sb.env, { REKEY_APISERVER_URLS: '' });
    listed = rekeyFor(sb.env);
  });
  after(async () => {
    rekey?.close();
    listed?.close();
    await sb?.stop();
  });

  it('starts no rewrite before both apiservers report K2', async (t) => {
    const api = coreApi(sb.env);
    const seeded = await seedSecrets(api, 'gate', { count: 30 });
    // each apiserver adds its address to the `kubernetes` EndpointSlice on its reconciler's round
    const found = await waitFor(
      'the kubernetes EndpointSlice to list both apiservers',
      async () => {
        const s = await rekey.deps.adoption.read();
        return s.endpoints.servers.length === 2 && s.metricsReadable ? s : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.deepEqual(found.endpoints, {
      source: 'discovered',
      servers: sb.env.apiservers.map((a) => a.url).sort(),
    });
    await untilSettled(rekey, 120_000); // baseline revision for K1

    const k2 = await rotate({ dir: sb.dir, only: [0] });
    await waitForKeyId(k2, { dir: sb.dir, only: [0] });
    const aAdopted = Date.now();
    let waited = 0;
    while (Date.now() - aAdopted < LAG_MS) {
      // both configurations take turns: each must hold the gate while B is on K1
      for (const runner of [rekey, listed]) {
        const o = await reconcileStep(runner.deps, runner.config);
        if (o.kind === 'step' && o.keyIdHash === keyIdHash(k2)) {
          assert.equal(
            o.step.kind,
            'wait-convergence',
            `while B is on K1: ${JSON.stringify(o.step)}`,
          );
          assert.equal(o.counts.listed, 0, 'nothing listed or rewritten');
          assert.equal(o.phase, 'Converging');
          if (runner === rekey) waited++;
        }
      }
      await new Promise((r) => setTimeout(r, 3000));
    }
    assert.ok(waited > 0, 'rekey with the default settings saw K2 and waited');
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
