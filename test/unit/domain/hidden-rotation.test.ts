// Providers that hide rotation: a KMS rotation with an unchanged key_id is explained, not migrated;
// a changed key_id is stale; a versioned key_id that has not moved yet is "not yet adopted".

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assessKmsRotation,
  HIDDEN_ROTATION_WAYS_FORWARD,
  type KmsRotationAssessment,
  type KmsRotationInput,
} from '../../../shared/domain/hidden-rotation.ts';

const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const OTHER_ACCOUNT = 'arn:aws:kms:eu-west-1:999999999999:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ALIAS_ARN = 'arn:aws:kms:eu-west-1:111122223333:alias/etcd';
const GCP_KEY = 'projects/p/locations/global/keyRings/r/cryptoKeys/k';

function input(
  pluginKeyId: string,
  over: Partial<KmsRotationInput['kmsRotation']> = {},
  recordedKeyId?: string,
): KmsRotationInput {
  return {
    provider: 'aws-kms',
    pluginKeyId,
    ...(recordedKeyId !== undefined ? { recordedKeyId } : {}),
    kmsRotation: { key: ARN, at: '2025-01-01T00:00:00Z', ...over },
  };
}

const cases: [string, KmsRotationInput, KmsRotationAssessment['kind']][] = [
  [
    'the plugin reports the rotated key ARN (aws-encryption-provider)',
    input(ARN, {}, ARN),
    'hidden',
  ],
  ['the plugin reports the ARN, the event the bare key id', input(ARN, { key: KEY_ID }), 'hidden'],
  ['the plugin reports the bare key id, the event the ARN', input(KEY_ID), 'hidden'],
  [
    'the plugin reports an alias ARN the caller resolved',
    input(ALIAS_ARN, { aliases: ['alias/etcd'] }),
    'hidden',
  ],
  ['the plugin reports a bare alias', input('alias/etcd', { aliases: [ALIAS_ARN] }), 'hidden'],
  ['the same key id in another account is another key', input(OTHER_ACCOUNT), 'not-yet-adopted'],
  ['an unresolved alias is not assumed to be the key', input(ALIAS_ARN), 'not-yet-adopted'],
  ['an empty key name matches nothing', input(ARN, { key: '' }), 'not-yet-adopted'],
  [
    'a versioned key_id (GCP) that has not moved yet',
    input(`${GCP_KEY}/cryptoKeyVersions/3`, { key: GCP_KEY }, `${GCP_KEY}/cryptoKeyVersions/3`),
    'not-yet-adopted',
  ],
  [
    'the plugin moved to a new key_id',
    input(`${GCP_KEY}/cryptoKeyVersions/4`, { key: GCP_KEY }, `${GCP_KEY}/cryptoKeyVersions/3`),
    'key-id-changed',
  ],
  [
    'a key_id that carries the new material id',
    input(`${ARN}#mat-2`, { newMaterialId: 'mat-2' }, `${ARN}#mat-2`),
    'key-id-changed',
  ],
  ['an empty material id proves nothing', input(ARN, { newMaterialId: '' }), 'hidden'],
];

describe('assessKmsRotation', () => {
  for (const [name, c, kind] of cases) {
    it(name, () => {
      const got = assessKmsRotation(c);
      assert.equal(got.kind, kind);
      assert.equal(got.stale, kind === 'key-id-changed');
      assert.match(got.explanation, /key_id sha256:[0-9a-f]{64}/);
    });
  }

  it('a key_id change recorded after the rotation, before its event arrived, is that change', () => {
    const v4 = `${GCP_KEY}/cryptoKeyVersions/4`;
    const base = input(v4, { key: GCP_KEY, at: '2025-01-01T00:00:00Z' }, v4);
    const after = assessKmsRotation({ ...base, recordedChangeAt: '2025-01-01T00:00:40Z' });
    assert.equal(after.kind, 'key-id-changed');
    assert.match(after.explanation, /recorded at 2025-01-01T00:00:40Z, after this rotation/);
    // a change recorded before the rotation is not its doing: the key_id has not moved since
    const before = assessKmsRotation({ ...base, recordedChangeAt: '2024-12-31T23:00:00Z' });
    assert.equal(before.kind, 'not-yet-adopted');
    // an ARN key_id with the change recorded after: still the recorded change, stale
    const arn = assessKmsRotation({
      ...input(ARN, {}, ARN),
      recordedChangeAt: '2025-01-01T00:01:00Z',
    });
    assert.equal(arn.kind, 'key-id-changed');
  });

  it('explains a hidden rotation and offers both ways forward', () => {
    const got = assessKmsRotation(input(ARN, { newMaterialId: 'mat-2' }));
    assert.ok(got.kind === 'hidden');
    assert.match(got.explanation, /no object became stale/);
    assert.match(got.explanation, /material mat-2/);
    assert.deepEqual(got.waysForward, HIDDEN_ROTATION_WAYS_FORWARD);
    const kinds = got.waysForward.map((w) => w.kind);
    assert.deepEqual(kinds, ['forced-rewrite', 'new-provider']);
    const forced = got.waysForward[0];
    assert.ok(forced);
    assert.match(forced.how, /restart the kube-apiservers/);
    assert.ok(forced.sideEffects.some((s) => /new resourceVersion/.test(s)));
    assert.ok(forced.sideEffects.some((s) => /MODIFIED event/.test(s)));
  });
});
