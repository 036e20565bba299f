// A Vault / OpenBao transit key as a plugin backend, through rekey's adapter, the way the Vault KMS
// v2 plugins people run behave (e.g. FalcoSuessgott/vault-kubernetes-kms): the key_id is the
// transit key's latest version in decimal (`1`, `2`, ...), so a rotation on the server is a key_id
// change with no restart. Encrypt uses the latest version and reports the version the server says
// it used; the wrapped seed is the server's ciphertext `vault:v<N>:...`, which names its version,
// and the server decrypts by that version (refusing versions below min_decryption_version).
import type { VaultTransit } from '../../../../shared/adapters/vault-transit/client.ts';
import {
  transitCiphertextVersion,
  transitKeyId,
  transitVersionOf,
} from '../../../../shared/domain/transit-key.ts';
import { BackendError, type KeyBackend } from './backend.ts';

export function transitBackend(transit: VaultTransit, key: string): KeyBackend {
  return {
    describe: `transit ${key}`,
    current: async () => transitKeyId((await transit.readKey(key)).latestVersion),
    async encrypt(plaintext) {
      const r = await transit.encrypt(key, plaintext);
      return {
        ciphertext: Buffer.from(r.ciphertext, 'utf8'),
        keyId: transitKeyId(r.version),
        annotations: {},
      };
    },
    async decrypt({ keyId, ciphertext }) {
      const text = ciphertext.toString('utf8');
      const version = transitCiphertextVersion(text);
      if (version === undefined) {
        throw new BackendError(
          'invalid',
          'the ciphertext is not a transit ciphertext vault:v<N>:...',
        );
      }
      if (transitVersionOf(keyId) !== version) {
        throw new BackendError(
          'invalid',
          `key_id ${JSON.stringify(keyId)} does not name version ${version}, the one the ciphertext was made with`,
        );
      }
      return transit.decrypt(key, text);
    },
  };
}
