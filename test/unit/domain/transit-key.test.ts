// Vault / OpenBao transit keys: the REKEY_KMS_KEY form `<mount>/keys/<name>`, key_ids that are the
// key's version (as the Vault KMS plugins report it), and which versions still in etcd the key can
// no longer decrypt once its min_decryption_version is raised.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { InventoryRow } from '../../../shared/domain/key-inventory.ts';
import {
  describeUndecryptable,
  parseTransitKey,
  transitCiphertextVersion,
  transitVersionOf,
  undecryptableKeyIds,
} from '../../../shared/domain/transit-key.ts';

const row = (keyId: string, total: number, provider = 'vault'): InventoryRow => ({
  kind: 'kms-v2',
  provider,
  keyId,
  total,
  byPath: { secrets: total },
});

describe('transit keys', () => {
  it('reads <mount>/keys/<name>, nested mounts included, and nothing else', () => {
    assert.deepEqual(parseTransitKey('transit/keys/kms'), { mount: 'transit', name: 'kms' });
    assert.deepEqual(parseTransitKey('team-a/transit/keys/etcd.kek'), {
      mount: 'team-a/transit',
      name: 'etcd.kek',
    });
    for (const other of [
      'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'projects/p/locations/l/keyRings/r/cryptoKeys/k',
      'https://kv-acme.vault.azure.net/keys/etcd-kek',
      'transit/keys/',
      '/transit/keys/kms',
      'transit/keys/kms/rotate',
      '../sys/keys/kms',
      'transit/keys/..',
      'kms',
    ]) {
      assert.equal(parseTransitKey(other), undefined, other);
    }
  });

  it('takes a key_id as a version only when it is a positive decimal', () => {
    assert.equal(transitVersionOf('1'), 1);
    assert.equal(transitVersionOf('42'), 42);
    for (const other of ['0', '01', 'v2', 'local-1', '', '1.5', '-1']) {
      assert.equal(transitVersionOf(other), undefined, other);
    }
  });

  it('reads the version a transit ciphertext names', () => {
    assert.equal(transitCiphertextVersion('vault:v3:AAAA'), 3);
    assert.equal(transitCiphertextVersion('vault:v0:AAAA'), undefined);
    assert.equal(transitCiphertextVersion('AAAA'), undefined);
  });

  it('names the versions in etcd below min_decryption_version under every provider, oldest first', () => {
    const rows: InventoryRow[] = [
      row('3', 40),
      row('1', 5),
      row('2', 7),
      row('1', 9, 'other-provider'),
      { kind: 'identity', total: 3, byPath: { configmaps: 3 } },
      row('local-1', 2),
    ];
    const found = undecryptableKeyIds(rows, { latestVersion: 3, minDecryptionVersion: 3 });
    assert.deepEqual(found, [
      { provider: 'other-provider', keyId: '1', version: 1, objects: 9 },
      { provider: 'vault', keyId: '1', version: 1, objects: 5 },
      { provider: 'vault', keyId: '2', version: 2, objects: 7 },
    ]);
    assert.equal(
      describeUndecryptable(
        'transit/keys/kms',
        { latestVersion: 3, minDecryptionVersion: 3 },
        found,
      ),
      'transit/keys/kms: min_decryption_version is 3, so version 1 (9 object(s)) under provider other-provider, version 1 (5 object(s)) under provider vault, version 2 (7 object(s)) under provider vault still in etcd can no longer be decrypted',
    );
  });

  it('finds nothing when every version in etcd can still be decrypted', () => {
    assert.deepEqual(
      undecryptableKeyIds([row('2', 4), row('3', 1, 'other-provider')], {
        latestVersion: 3,
        minDecryptionVersion: 2,
      }),
      [],
    );
  });
});
