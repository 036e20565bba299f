// rekey as on a hosted control plane (EKS, GKE, AKS), on a real apiserver: no key-id report and no
// etcd access. The apiserver's metrics alone give the key_id hash, which records a hash-only
// revision; the rewrite runs; the completion is unverified (exit 4), never verified. After a
// rotation, the new hash records the next revision and every secret ends up under the new key
// (read from etcd by the test, not by rekey).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EXIT } from '../../functions/cli/output.ts';
import { exitCode } from '../../functions/cli/reconcile.ts';
import { createMetricsKeyObserver } from '../../shared/adapters/apiserver-metrics/metrics-key-observer.ts';
import { withFallbackObserver } from '../../shared/adapters/fallback-key-observer.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { UNVERIFIED_NOTE } from '../../shared/domain/phase.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, status, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { untilSettled } from '../support/settle.ts';

const NS = 'hosted';

describe('rekey on a hosted control plane: metrics only, no etcd', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;

  before(async () => {
    sb = await startSandbox();
    await seedSecrets(coreApi(sb.env), NS, { count: 10 });
    // no etcd, an explicit scope (no report carries the EncryptionConfiguration)
    rekey = rekeyFor(sb.env, { REKEY_ETCD_ENDPOINTS: '', REKEY_RESOURCES: 'secrets' });
    assert.equal(rekey.deps.verifier, undefined);
    // no reporter runs next to a hosted plugin: the reports say nothing at all
    rekey.deps.observer = withFallbackObserver(
      { observe: async () => ({ observations: [], pluginHealth: { status: 'unknown' } }) },
      createMetricsKeyObserver({ adoption: rekey.deps.adoption, clock: systemClock }),
    );
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('records a hash-only revision of the key the apiserver reports and completes unverified (exit 4)', async () => {
    const [reported] = await status({ dir: sb.dir });
    assert.ok(reported?.keyIdHash);

    const last = (await untilSettled(rekey, 180_000)).at(-1);

    assert.ok(last?.kind === 'step', JSON.stringify(last));
    assert.equal(last.phase, 'Completed');
    assert.equal(last.verified, false);
    assert.deepEqual(last.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.equal(exitCode(last, { timedOut: false, untilComplete: true }), EXIT.unverifiable);
    const [r1] = (await rekey.deps.store.list(rekey.config.provider)).map((s) => s.revision);
    assert.equal(r1?.keyId, '');
    assert.equal(r1?.source, 'apiserver-metrics');
    assert.equal(r1?.keyIdHash, reported.keyIdHash);
  });

  it('after a rotation, the new hash is the next revision and every secret is rewritten under it', async () => {
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });

    const last = (await untilSettled(rekey, 240_000, { keyId: k2 })).at(-1);

    assert.ok(last?.kind === 'step', JSON.stringify(last));
    assert.equal(last.phase, 'Completed');
    assert.equal(last.verified, false);
    assert.equal(last.keyIdHash, keyIdHash(k2));
    const revisions = (await rekey.deps.store.list(rekey.config.provider)).map((s) => s.revision);
    assert.deepEqual(
      revisions.map((r) => [r.number, r.keyId, r.keyIdHash]).sort(),
      [
        [1, '', revisions.find((r) => r.number === 1)?.keyIdHash],
        [2, '', keyIdHash(k2)],
      ].sort(),
    );
    const inEtcd = await keyIdsInEtcd(sb.env, NS);
    assert.equal(inEtcd.size, 10);
    assert.deepEqual(new Set(inEtcd.values()), new Set([k2]));
  });
});
