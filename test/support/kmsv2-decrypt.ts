// Test-only KMS v2 decryption, to prove the envelope is understood (docs/kms-facts.md §5). It lives
// under test/ on purpose: rekey itself never decrypts, it only reads keyIDs.

import { createDecipheriv, createHmac } from 'node:crypto';
import { DekSourceType } from '../../shared/domain/encrypted-value.ts';

/** What decrypting one stored KMS v2 object needs. */
export interface KmsV2DecryptInput {
  /** Field 1 of the EncryptedObject. */
  encryptedData: Uint8Array;
  /** Field 5: 0 = the seed is the AES key, 1 = the AES key is derived from the seed. */
  encryptedDEKSourceType: number;
  /** The DEK or seed in clear, i.e. what the plugin's Decrypt returns for encryptedDEKSource. */
  seed: Uint8Array;
  /** The full etcd key, which the apiserver binds as additional authenticated data. */
  etcdKey: string;
}

const INFO_BYTES = 32;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;

/**
 * Decrypts a KMS v2 object to its storage encoding. Type 1 uses HKDF-Expand only (no Extract),
 * which is why Node's hkdfSync cannot be used: key = HMAC-SHA256(seed, info || 0x01).
 * @throws when the tag does not verify or the type is unknown.
 */
export function decryptKmsV2({
  encryptedData,
  encryptedDEKSourceType,
  seed,
  etcdKey,
}: KmsV2DecryptInput): Buffer {
  let key: Uint8Array;
  let rest: Uint8Array;
  if (encryptedDEKSourceType === DekSourceType.HKDF_SHA256_XNONCE_AES_GCM_SEED) {
    const info = encryptedData.subarray(0, INFO_BYTES);
    key = createHmac('sha256', seed).update(info).update(Uint8Array.of(1)).digest();
    rest = encryptedData.subarray(INFO_BYTES);
  } else if (encryptedDEKSourceType === DekSourceType.AES_GCM_KEY) {
    key = seed;
    rest = encryptedData;
  } else {
    throw new Error(`unknown encryptedDEKSourceType ${encryptedDEKSourceType}`);
  }
  const nonce = rest.subarray(0, NONCE_BYTES);
  const ciphertext = rest.subarray(NONCE_BYTES, rest.length - TAG_BYTES);
  const tag = rest.subarray(rest.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(etcdKey, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(ciphertext), decipher.final()]);
}
