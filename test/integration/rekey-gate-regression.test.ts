// A regression of the convergence gate on a real HA pair: half-way through the migration to K2,
// apiserver 1 drops back to K1 (as after a restart with a lagging plugin) and clients write through
// it. rekey waits instead of rewriting, and once apiserver 1 is back on K2 it passes again over
// every resource, so the objects written under K1 in pages already done are rewritten: it
// completes verified without ever finding an offender, and etcd, read without rekey's code, holds
// every secret under K2.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { readAllValues } from '../support/independent-etcd.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const NS = 'regress';
const COUNT = 40;

describe('rekey: an apiserver back on K1 mid-migration', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let k1 = '';
  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
    await seedSecrets(coreApi(sb.env), NS, { count: COUNT });
    // one page of 10 per step, so the migration can be stopped half-way
    rekey = rekeyFor(sb.env, { REKEY_PAGE_SIZE: '10' });
    const baseline = (await untilSettled(rekey, 180_000)).at(-1);
    assert.ok(
      baseline?.kind === 'step' && baseline.phase === 'Completed',
      JSON.stringify(baseline),
    );
    k1 = [...(await keyIdsInEtcd(sb.env, NS)).values()][0] ?? '';
    assert.match(k1, /^local-/);
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('waits while regressed, then passes again and completes verified with everything under K2', async () => {
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2);

    // migrate one page at a time until some of our secrets are under K2 and some still under K1
    const onePage = { ...rekey.config, budgetMs: 1 };
    let rewritten: string[] = [];
    for (let i = 0; i < 50; i++) {
      const o = await reconcileStep(rekey.deps, onePage);
      assert.ok(o.kind === 'step' && o.keyIdHash === keyIdHash(k2), JSON.stringify(o));
      assert.ok(o.more && o.phase === 'Migrating', `stopped before half-way: ${JSON.stringify(o)}`);
      const now = await keyIdsInEtcd(sb.env, NS);
      rewritten = [...now].filter(([, k]) => k === k2).map(([name]) => name);
      if (rewritten.length > 0 && rewritten.length < COUNT) break;
    }
    assert.ok(rewritten.length > 0 && rewritten.length < COUNT, 'stopped half-way');

    // apiserver 1 drops back to K1, and a client writes every secret through it
    await rotate({ dir: sb.dir, to: k1, only: [1] });
    await waitForKeyId(k1, { dir: sb.dir, only: [1] });
    const through1 = coreApi(sb.env, { apiserver: 1 });
    const written = new Map<string, string>();
    for (let i = 0; i < COUNT; i++) {
      const value = randomBytes(32).toString('base64');
      await through1.replaceNamespacedSecret({
        name: `s-${i}`,
        namespace: NS,
        body: { metadata: { name: `s-${i}`, namespace: NS }, data: { value } },
      });
      written.set(`s-${i}`, value);
    }
    const stale = await keyIdsInEtcd(sb.env, NS);
    assert.ok(
      rewritten.some((name) => stale.get(name) === k1),
      'a secret of a page already done is under K1 again',
    );

    const wait = await reconcileStep(rekey.deps, rekey.config);
    assert.ok(wait.kind === 'step' && wait.step.kind === 'wait-convergence', JSON.stringify(wait));
    assert.equal(wait.phase, 'Converging');
    const regressed = (await rekey.deps.store.list(rekey.config.provider))
      .map((s) => s.revision)
      .find((r) => r.name === wait.revision);
    assert.ok(regressed?.regressedAt, 'the revision records the regression');
    assert.deepEqual(await keyIdsInEtcd(sb.env, NS), stale, 'nothing rewritten while regressed');

    await rotate({ dir: sb.dir, to: k2, only: [1] });
    await waitForKeyId(k2, { dir: sb.dir, only: [1] });
    const steps: StepOutcome[] = [];
    await untilSettled(rekey, 180_000, { keyId: k2, onStep: (o) => steps.push(o) });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    const kinds = steps.flatMap((o) => (o.kind === 'step' ? [o.step.kind] : []));
    assert.ok(!kinds.includes('degraded'), `never Degraded, no offender to re-patch: ${kinds}`);
    assert.ok(!kinds.includes('retry'), `no retry pass: ${kinds}`);

    // etcd, read without rekey's code: every secret of ours under K2
    const values = await readAllValues(sb.env.etcd.url, `${sb.env.etcd.prefix}/secrets/${NS}/`);
    assert.equal(values.size, COUNT);
    for (const [key, what] of values) {
      assert.equal(what, `kms-v2:${sb.env.kms.providerName}:${k2}`, key);
    }
    const api = coreApi(sb.env);
    for (const [name, value] of [...written].slice(0, 5)) {
      const now = await api.readNamespacedSecret({ name, namespace: NS });
      assert.equal(now.data?.value, value, 'data intact');
    }
  });
});
