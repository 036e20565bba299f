// A revision recorded from the apiservers' metrics has no key_id: the Secret keeps an empty key_id
// and the hash in its annotation, and reads back with that hash (not the hash of ""), with the KMS
// label; a record with neither a key_id nor a valid hash is damaged, not a key.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  revisionToSecret,
  secretToRevision,
} from '../../../../shared/adapters/k8s/revision-codec.ts';
import { keyIdHash } from '../../../../shared/domain/key-id.ts';
import { rev } from '../../../support/unit/domain-fixtures.ts';

const NS = 'rekey-system';
const hashOnly = rev({
  number: 2,
  keyId: '',
  keyIdHash: keyIdHash('projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2'),
  source: 'apiserver-metrics',
  kmsLabel: 'gcp primary projects/p/locations/l/keyRings/r/cryptoKeys/k/cryptoKeyVersions/2',
});

describe('revision codec: a hash-only revision', () => {
  it('round-trips with its hash, its empty key_id, its source and its KMS label', () => {
    const secret = revisionToSecret(hashOnly, NS);
    assert.equal(secret.data?.keyId, '');
    assert.equal(secret.metadata?.annotations?.['rekey.dev/key-id-hash'], hashOnly.keyIdHash);

    const back = secretToRevision(secret);

    assert.ok(back.ok, back.ok ? '' : back.error);
    assert.deepEqual(back.revision, hashOnly);
    assert.notEqual(back.revision.keyIdHash, keyIdHash(''));
  });

  it('a full key_id still decides the hash, whatever the annotation says', () => {
    const secret = revisionToSecret(rev({ number: 1, keyId: 'k1' }), NS);
    (secret.metadata?.annotations ?? {})['rekey.dev/key-id-hash'] = keyIdHash('forged');
    const back = secretToRevision(secret);
    assert.ok(back.ok);
    assert.equal(back.revision.keyIdHash, keyIdHash('k1'));
  });

  for (const bad of [undefined, '', 'sha256:xyz', 'md5:00']) {
    it(`an empty key_id with hash ${JSON.stringify(bad)} is a damaged record`, () => {
      const secret = revisionToSecret(hashOnly, NS);
      const a = secret.metadata?.annotations ?? {};
      if (bad === undefined) delete a['rekey.dev/key-id-hash'];
      else a['rekey.dev/key-id-hash'] = bad;
      const back = secretToRevision(secret);
      assert.equal(back.ok, false);
      assert.match(back.ok ? '' : back.error, /no keyId and no valid key-id-hash/);
    });
  }
});
