import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import {
  InventoryTally,
  kmsProviderWrapping,
  storagePathOf,
} from '../../../shared/domain/key-inventory.ts';

describe('storagePathOf', () => {
  it('gives the storage path of built-in, grouped and services keys', () => {
    assert.equal(storagePathOf('/registry/secrets/ns/a', '/registry'), 'secrets');
    assert.equal(storagePathOf('/registry/namespaces/ns', '/registry/'), 'namespaces');
    assert.equal(
      storagePathOf('/registry/example.com/widgets/ns/w', '/registry'),
      'example.com/widgets',
    );
    assert.equal(
      storagePathOf('/registry/services/endpoints/ns/e', '/registry'),
      'services/endpoints',
    );
    assert.equal(storagePathOf('/kubernetes.io/secrets/ns/a', '/kubernetes.io'), 'secrets');
  });
});

describe('InventoryTally', () => {
  it('counts every key_id per provider and path, and plaintext apart', () => {
    const t = new InventoryTally('/registry');
    t.add({ key: '/registry/secrets/a/1', kind: 'kms-v2', provider: 'p', keyID: 'k1' });
    t.add({ key: '/registry/secrets/a/2', kind: 'kms-v2', provider: 'p', keyID: 'k1' });
    t.add({ key: '/registry/configmaps/a/1', kind: 'kms-v2', provider: 'p', keyID: 'k1' });
    t.add({ key: '/registry/secrets/a/3', kind: 'kms-v2', provider: 'p', keyID: 'k2' });
    t.add({ key: '/registry/secrets/a/4', kind: 'kms-v2', provider: 'q', keyID: 'k2' });
    t.add({ key: '/registry/leases/a/1', kind: 'identity' });
    const inv = t.result();
    assert.equal(inv.totalScanned, 6);
    assert.deepEqual(
      inv.rows.map((r) => [r.kind, r.provider, r.keyId, r.total, r.byPath]),
      [
        ['kms-v2', 'p', 'k1', 3, { secrets: 2, configmaps: 1 }],
        ['identity', undefined, undefined, 1, { leases: 1 }],
        ['kms-v2', 'p', 'k2', 1, { secrets: 1 }],
        ['kms-v2', 'q', 'k2', 1, { secrets: 1 }],
      ],
    );
    assert.equal(inv.rows[0]?.keyIdHash, keyIdHash('k1'));
  });

  it('names the kms provider a value is wrapped under by a key_id, whichever provider it is', () => {
    const v = { key: '/registry/secrets/a/1', kind: 'kms-v2' as const, provider: 'q', keyID: 'k1' };
    assert.equal(kmsProviderWrapping(v, 'k1'), 'q');
    assert.equal(kmsProviderWrapping(v, 'k2'), undefined);
    const v1 = {
      key: '/registry/secrets/a/2',
      kind: 'kms-v1' as const,
      provider: 'p',
      keyID: 'k1',
    };
    assert.equal(kmsProviderWrapping(v1, 'k1'), 'p');
    assert.equal(
      kmsProviderWrapping({ key: '/registry/leases/a/1', kind: 'identity' }, 'k1'),
      undefined,
    );
  });
});
