// planMigration: the dry run pages like the slice engine (a 410 in the middle counts the resource
// afresh, without losing the other resources' counts) and, with etcd, counts only values that are
// not under the current key, by the proof's own test. Nothing is written.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planMigration } from '../../../shared/core/plan-migration.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { ScannedValue } from '../../../shared/domain/proof.ts';
import type { ValueScanner } from '../../../shared/ports/value-scanner.ts';
import { harness, P } from '../../support/unit/reconcile-harness.ts';

function listed(objects: number) {
  const h = harness({ objects, pageSize: 10 });
  h.observer.report('k1', h.clock.iso());
  return h;
}

describe('planMigration: from a listing (no etcd)', () => {
  it('counts every object in scope per namespace, page by page', async () => {
    const h = listed(25);
    const r = await planMigration(h.deps, h.config);
    assert.ok(r.kind === 'planned');
    assert.equal(r.plan.source, 'listing');
    assert.equal(r.plan.keyIdHash, keyIdHash('k1'));
    assert.equal(r.plan.scanned, 25);
    assert.equal(r.plan.toRewrite, 25);
    assert.deepEqual(r.plan.perNamespace, [
      ['ns-0', 13],
      ['ns-1', 12],
    ]);
    assert.deepEqual(
      h.cluster.lists.map((l) => l.continueToken),
      [undefined, 'ns-0/s-018', 'ns-1/s-013'],
    );
    assert.deepEqual(h.cluster.patches, [], 'a plan writes nothing');
    assert.deepEqual(h.store.all(), []);
  });

  it('a 410 in the middle lists that resource again and counts it once, other resources kept', async () => {
    const h = listed(25);
    const list = h.cluster.listPage.bind(h.cluster);
    let calls = 0;
    h.cluster.listPage = (request) => {
      // the continue token expires during the second resource's listing
      if (++calls === 5) h.cluster.expireNextToken = true;
      return list(request);
    };
    const r = await planMigration(h.deps, { ...h.config, resources: ['secrets', 'configmaps'] });
    assert.ok(r.kind === 'planned');
    assert.deepEqual(
      h.cluster.lists.map((l) => l.continueToken),
      [
        undefined,
        'ns-0/s-018',
        'ns-1/s-013',
        undefined,
        'ns-0/s-018', // expired: configmaps is listed again from the start
        undefined,
        'ns-0/s-018',
        'ns-1/s-013',
      ],
    );
    assert.equal(r.plan.scanned, 50);
    assert.equal(r.plan.toRewrite, 50);
    assert.deepEqual(r.plan.perNamespace, [
      ['ns-0', 26],
      ['ns-1', 24],
    ]);
  });

  it('says so when no key_id is known', async () => {
    const h = harness();
    assert.deepEqual(await planMigration(h.deps, h.config), { kind: 'no-key-id', provider: P });
  });
});

describe('planMigration: from etcd', () => {
  const values: ScannedValue[] = [
    { key: '/registry/secrets/a/current', kind: 'kms-v2', provider: P, keyID: 'k1' },
    { key: '/registry/secrets/a/older', kind: 'kms-v2', provider: P, keyID: 'k0' },
    { key: '/registry/secrets/b/v1', kind: 'kms-v1', provider: P, keyID: 'k1' },
    { key: '/registry/secrets/b/other', kind: 'kms-v2', provider: 'other', keyID: 'k1' },
    { key: '/registry/secrets/b/plain', kind: 'identity' },
    {
      key: '/registry/secrets/b/broken',
      kind: 'kms-v2',
      provider: P,
      keyID: 'k1',
      error: 'truncated',
    },
    { key: '/registry/configmaps/a/cm', kind: 'kms-v2', provider: P, keyID: 'k0' },
  ];
  const scanner: ValueScanner = {
    prefix: '/registry',
    async *values() {
      yield* values;
    },
  };

  it('counts only values of the scope not under the current key_id', async () => {
    const h = listed(25);
    const r = await planMigration({ ...h.deps, scanner }, h.config);
    assert.ok(r.kind === 'planned');
    assert.equal(r.plan.source, 'etcd');
    assert.equal(r.plan.scanned, 6, 'configmaps are out of scope');
    assert.equal(r.plan.toRewrite, 5, 'all but the one under k1 as KMS v2 of the provider');
    assert.deepEqual(r.plan.perNamespace, [
      ['a', 1],
      ['b', 4],
    ]);
    assert.deepEqual(h.cluster.lists, [], 'nothing listed');
  });
});
