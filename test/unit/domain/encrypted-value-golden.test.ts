// Checks the envelope reader against values written by real kube-apiservers, and decrypts them to
// show the format (prefix, protobuf fields, AAD, key derivation) is understood end to end.

import assert from 'node:assert/strict';
import { createHash, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  classifyValue,
  DekSourceType,
  decodeKmsV2EncryptedObject,
  inspectEntry,
} from '../../../shared/domain/encrypted-value.ts';
import { decryptKmsV2 } from '../../support/kmsv2-decrypt.ts';

const goldenDir = new URL('../../../../shared/data/kmsv2-golden/', import.meta.url);
const PREFIX = 'k8s:enc:kms:v2:kms-provider:';
const ETCD_PREFIX = '/43da1478-5e9c-4ef3-a92a-2b19d540c8a5/registry';
const NAMESPACE = 'kms-v2-legacy-data';
const API_KEY = '086a7ffc-0225-11e8-ba89-0ed5f89f718b';

const cases = [
  {
    file: 'aes-gcm-key.etcd',
    sha256: '430a7089aa9e7b3100fc02f51532a381da4085b3d6d94377040e643e6ba2e5dd',
    type: DekSourceType.AES_GCM_KEY,
    name: 'dek-source-aes-gcm-key',
    dekSource: 'gafIvwT0ASoKdZ/D1L2SlH73LUMj5qa3hroljfS51wc=',
    uid: '1f4a8f7b-01b4-49d1-b898-751eb56937f1',
  },
  {
    file: 'hkdf-seed.etcd',
    sha256: '290cfd18cddca79f6d00460776d41932cecfb0881f39cf8f4bafca58de08fd7d',
    type: DekSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED,
    name: 'dek-source-hkdf-sha256-xnonce-aes-gcm-seed',
    dekSource: '/+WnKXQEM/AhXICYRNBeGk+WSuB+7OBuSYJTbP66Zyc=',
    uid: '87c514b4-9c26-4041-ad0d-0d07dca557ed',
  },
] as const;

for (const c of cases) {
  describe(`golden ${c.file}`, () => {
    const value = readFileSync(new URL(c.file, goldenDir));
    const etcdKey = `${ETCD_PREFIX}/secrets/${NAMESPACE}/${c.name}`;
    const body = value.subarray(PREFIX.length);

    it('is the recorded file', () => {
      assert.equal(createHash('sha256').update(value).digest('hex'), c.sha256);
      assert.equal(value.subarray(0, PREFIX.length).toString('latin1'), PREFIX);
    });

    it('classifies as kms-v2 with provider, keyID, source type and annotation keys', () => {
      assert.deepEqual(classifyValue(value), {
        kind: 'kms-v2',
        provider: 'kms-provider',
        keyID: '1',
        dekSourceType: c.type,
        annotationKeys: ['local-kek.kms.kubernetes.io'],
      });
    });

    it('decodes every EncryptedObject field', () => {
      const obj = decodeKmsV2EncryptedObject(body);
      assert.equal(obj.keyID, '1');
      assert.equal(obj.encryptedDEKSourceType, c.type);
      assert.equal(Buffer.from(obj.encryptedDEKSource).toString('latin1'), c.dekSource);
      assert.deepEqual(Object.keys(obj.annotations), ['local-kek.kms.kubernetes.io']);
      const kek = obj.annotations['local-kek.kms.kubernetes.io'];
      assert.ok(kek);
      assert.equal(Buffer.from(kek).toString('utf8'), 'encrypted-local-kek');
      // type 1 carries a 32-byte HKDF info before the nonce; both carry nonce and tag.
      assert.ok(obj.encryptedData.length > 12 + 16 + (c.type === 1 ? 32 : 0));
    });

    it('reports the object under its etcd key', () => {
      const report = inspectEntry(etcdKey, value, { prefix: ETCD_PREFIX, resource: 'secrets' });
      assert.equal(report.namespace, NAMESPACE);
      assert.equal(report.name, c.name);
      assert.equal(report.resource, 'secrets');
      assert.equal(report.keyID, '1');
      assert.equal(report.error, undefined);
    });

    it('decrypts to the stored Secret with the etcd key as AAD', () => {
      const obj = decodeKmsV2EncryptedObject(body);
      const seed = Buffer.from(c.dekSource, 'base64');
      assert.equal(seed.length, 32);
      const plain = decryptKmsV2({
        encryptedData: obj.encryptedData,
        encryptedDEKSourceType: obj.encryptedDEKSourceType,
        seed,
        etcdKey,
      });
      assert.deepEqual([...plain.subarray(0, 4)], [0x6b, 0x38, 0x73, 0x00]); // "k8s\0"
      const text = plain.toString('latin1');
      for (const expected of [NAMESPACE, c.uid, API_KEY, c.name, 'Opaque', 'api_key']) {
        assert.ok(text.includes(expected), `plaintext should contain ${expected}`);
      }
    });

    it('fails to decrypt under another etcd key (the AAD binds the object to its key)', () => {
      const obj = decodeKmsV2EncryptedObject(body);
      assert.throws(() =>
        decryptKmsV2({
          encryptedData: obj.encryptedData,
          encryptedDEKSourceType: obj.encryptedDEKSourceType,
          seed: Buffer.from(c.dekSource, 'base64'),
          etcdKey: `${ETCD_PREFIX}/secrets/${NAMESPACE}/other`,
        }),
      );
    });
  });
}

it('type 1 needs HKDF-Expand only: a full HKDF (hkdfSync) key does not decrypt', () => {
  const c = cases[1];
  const obj = decodeKmsV2EncryptedObject(
    readFileSync(new URL(c.file, goldenDir)).subarray(PREFIX.length),
  );
  const seed = Buffer.from(c.dekSource, 'base64');
  const info = obj.encryptedData.subarray(0, 32);
  const wrongKey = Buffer.from(hkdfSync('sha256', seed, Buffer.alloc(0), info, 32));
  // Feeding the extract-then-expand key as a type-0 key over the same bytes must fail the tag.
  assert.throws(() =>
    decryptKmsV2({
      encryptedData: obj.encryptedData.subarray(32),
      encryptedDEKSourceType: DekSourceType.AES_GCM_KEY,
      seed: wrongKey,
      etcdKey: `${ETCD_PREFIX}/secrets/${NAMESPACE}/${c.name}`,
    }),
  );
});
