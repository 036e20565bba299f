// How the sandbox plugin wraps the apiserver's DEK seed: AES-256-GCM under a keyring key, with the
// key_id as associated data so a ciphertext cannot be replayed under another key_id's label.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
/** KMS v2 caps the wrapped seed at 1024 bytes (docs/kms-facts.md §1). */
export const MAX_CIPHERTEXT_BYTES = 1024;
export const MAX_PLAINTEXT_BYTES = MAX_CIPHERTEXT_BYTES - NONCE_BYTES - TAG_BYTES;

/** Returns nonce || ciphertext || tag. */
export function wrap(key: Buffer, keyId: string, plaintext: Buffer): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, nonce);
  cipher.setAAD(Buffer.from(keyId, 'utf8'));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]);
}

/** Throws if the ciphertext is malformed or does not authenticate under (key, keyId). */
export function unwrap(key: Buffer, keyId: string, ciphertext: Buffer): Buffer {
  if (ciphertext.length < NONCE_BYTES + TAG_BYTES) {
    throw new Error(`ciphertext is ${ciphertext.length} bytes, shorter than nonce + tag`);
  }
  const nonce = ciphertext.subarray(0, NONCE_BYTES);
  const tag = ciphertext.subarray(ciphertext.length - TAG_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', key, nonce);
  decipher.setAAD(Buffer.from(keyId, 'utf8'));
  decipher.setAuthTag(tag);
  return Buffer.concat([
    decipher.update(ciphertext.subarray(NONCE_BYTES, ciphertext.length - TAG_BYTES)),
    decipher.final(),
  ]);
}
