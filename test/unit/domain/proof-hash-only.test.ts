// The proof when only the current key_id's hash is known (a revision recorded from the apiservers'
// metrics) and etcd is reachable anyway: each value's key_id is compared by its hash, so values
// under that key are current and values under any other key_id are still offenders.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { type ProofScope, ProofTally, type ScannedValue } from '../../../shared/domain/proof.ts';

const P = 'kms';
const scope: ProofScope[] = [
  { resource: 'secrets', storagePrefix: '/registry/secrets/', write: true },
  { resource: 'configmaps', storagePrefix: '/registry/configmaps/', write: false },
];
const kms = (key: string, keyID: string): ScannedValue => ({
  key,
  kind: 'kms-v2',
  provider: P,
  keyID,
});

function judge(values: ScannedValue[]) {
  const t = new ProofTally(scope, {
    provider: P,
    currentKeyId: '',
    currentKeyIdHash: keyIdHash('k2'),
    etcdPrefix: '/registry',
  });
  for (const v of values) t.add(v);
  return t.result(
    new Map([
      ['secrets', 2],
      ['configmaps', 0],
    ]),
  );
}

describe('ProofTally with a hash-only current key', () => {
  it('is clean when every value is under the key with that hash', () => {
    const r = judge([kms('/registry/secrets/a/s1', 'k2'), kms('/registry/secrets/a/s2', 'k2')]);
    assert.equal(r.clean, true, JSON.stringify(r));
    assert.equal(r.resources[0]?.current, 2);
  });

  it('names values under another key_id, in scope and out of it', () => {
    const r = judge([
      kms('/registry/secrets/a/s1', 'k2'),
      kms('/registry/secrets/a/old', 'k1'),
      kms('/registry/leases/x', 'k1'),
    ]);
    assert.equal(r.clean, false);
    assert.deepEqual(r.offenders, ['secrets/a/old', 'leases/x']);
    assert.equal(r.strays, 1);
  });

  it('an empty key_id on a value is never the current key', () => {
    const r = judge([kms('/registry/secrets/a/s1', 'k2'), kms('/registry/secrets/a/s2', '')]);
    assert.equal(r.clean, false);
  });
});
