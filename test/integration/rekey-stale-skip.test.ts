// Work proportional to what is stale, on the real sandbox: after a rotation, half the secrets are
// written again by a client (as a partial `kubectl replace` would), so etcd already stores them
// under K2. rekey reads each page's keyIDs from etcd and patches only the other half; the final
// proof still scans everything and is clean. Patches are counted from rekey's own REST exchanges.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const NAMESPACES = 4;
const PER_NAMESPACE = 50;
const SEEDED = /^\/api\/v1\/namespaces\/(stale-\d+)\/secrets\/([^/?]+)$/;

describe('rekey: only stale objects are patched where etcd is readable', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  before(async () => {
    sb = await startSandbox();
    seeded = await seedMany(coreApi(sb.env), {
      namespaces: NAMESPACES,
      perNamespace: PER_NAMESPACE,
      prefix: 'stale',
    });
    rekey = rekeyFor(sb.env, { REKEY_PAGE_SIZE: '50' });
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  /** `<namespace>/<name>` of every seeded secret rekey patched since exchange `from`. */
  const patchedSince = (from: number) =>
    rekey.exchanges
      .slice(from)
      .filter((e) => e.request.method === 'PATCH')
      .map((e) => SEEDED.exec(e.request.path))
      .filter((m) => m !== null)
      .map((m) => `${m[1]}/${m[2]}`);

  it('patches nothing on a cluster already under its key (the first revision)', async () => {
    const steps = await untilSettled(rekey, 180_000);
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(last.step, { kind: 'complete', verified: true });
    assert.deepEqual(patchedSince(0), [], 'no seeded secret was patched');
    assert.ok(last.counts.alreadyCurrent >= seeded.length, JSON.stringify(last.counts));
  });

  it('after a rotation with half the secrets rewritten by a client, patches only the stale half', async (t) => {
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2);

    // a client writes every other secret again: the apiserver stores it under K2
    const api = coreApi(sb.env);
    const keys = seeded.map((s) => `${s.namespace}/${s.name}`).sort();
    const current = new Set(keys.filter((_, i) => i % 2 === 0));
    for (const key of current) {
      const [namespace = '', name = ''] = key.split('/');
      const now = await api.readNamespacedSecret({ name, namespace });
      await api.replaceNamespacedSecret({
        name,
        namespace,
        body: { ...now, metadata: { ...now.metadata, labels: { touched: 'yes' } } },
      });
    }
    const stale = keys.filter((k) => !current.has(k));
    for (let n = 0; n < NAMESPACES; n++) {
      const inEtcd = await keyIdsInEtcd(sb.env, `stale-${n}`);
      for (const [name, keyId] of inEtcd) {
        const key = `stale-${n}/${name}`;
        assert.equal(keyId === k2, current.has(key), `before rekey: ${key} is under ${keyId}`);
      }
    }

    const from = rekey.exchanges.length;
    const began = Date.now();
    const steps = await untilSettled(rekey, 300_000, { keyId: k2 });
    const last = steps.at(-1);
    assert.ok(last?.kind === 'step');
    assert.deepEqual(
      last.step,
      { kind: 'complete', verified: true },
      'the full etcd proof is clean',
    );

    const patched = patchedSince(from);
    t.diagnostic(
      `settled in ${((Date.now() - began) / 1000).toFixed(1)} s; patched ${patched.length} of ${keys.length} seeded secrets; counts ${JSON.stringify(last.counts)}`,
    );
    assert.deepEqual([...patched].sort(), stale, 'exactly the stale half was patched, once each');
    assert.ok(
      last.counts.alreadyCurrent >= current.size,
      `alreadyCurrent ${last.counts.alreadyCurrent} counts the current half`,
    );
    const c = last.counts;
    assert.equal(
      c.reencrypted + c.unchanged + c.conflicts + c.gone + c.failed + c.alreadyCurrent,
      c.listed,
      'every listed object has an outcome',
    );

    for (let n = 0; n < NAMESPACES; n++) {
      const inEtcd = await keyIdsInEtcd(sb.env, `stale-${n}`);
      assert.equal(inEtcd.size, PER_NAMESPACE);
      assert.ok(
        [...inEtcd.values()].every((k) => k === k2),
        `stale-${n} all under ${k2}`,
      );
    }
  });
});
