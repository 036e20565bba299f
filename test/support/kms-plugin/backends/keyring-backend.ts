// The local file keyring as a plugin backend: key_ids `local-N`, rotated by the sandbox CLI.
import { MAX_PLAINTEXT_BYTES, unwrap, wrap } from '../envelope.ts';
import type { Keyring } from '../keyring.ts';
import { BackendError, type KeyBackend } from './backend.ts';

/** Stored in etcd in plaintext next to each object: names the wrapping format, nothing secret. */
export const ANNOTATION_KEY = 'keyring.rekey.dev';
const ANNOTATION_VALUE = Buffer.from('aes-256-gcm;aad=key_id;v1');

export function keyringBackend(keyring: Keyring, instance: string): KeyBackend {
  return {
    describe: `keyring ${keyring.dir}`,
    current: () => keyring.current(instance),
    async encrypt(plaintext) {
      if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
        throw new BackendError(
          'invalid',
          `plaintext must be 1..${MAX_PLAINTEXT_BYTES} bytes, got ${plaintext.length}`,
        );
      }
      // Read the pointer once: the key_id returned must be the one the ciphertext was made with.
      const keyId = await keyring.current(instance);
      const key = await keyring.keyFor(keyId);
      if (!key) throw new Error(`current key_id ${keyId} is missing from the keyring`);
      return {
        ciphertext: wrap(key, keyId, plaintext),
        keyId,
        annotations: { [ANNOTATION_KEY]: ANNOTATION_VALUE },
      };
    },
    async decrypt({ keyId, ciphertext, annotations }) {
      const format = annotations[ANNOTATION_KEY];
      if (format !== undefined && !format.equals(ANNOTATION_VALUE)) {
        throw new BackendError(
          'invalid',
          `unsupported ${ANNOTATION_KEY} annotation ${JSON.stringify(format.toString())}`,
        );
      }
      const key = await keyring.keyFor(keyId);
      if (!key)
        throw new BackendError(
          'not-found',
          `unknown key_id ${JSON.stringify(keyId)}: not in keyring ${keyring.dir}`,
        );
      try {
        return unwrap(key, keyId, ciphertext);
      } catch (err) {
        const reason = err instanceof Error ? err.message : String(err);
        throw new BackendError(
          'invalid',
          `ciphertext does not decrypt under key_id ${JSON.stringify(keyId)}: ${reason}`,
        );
      }
    },
  };
}
