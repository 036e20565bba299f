// GCP Cloud KMS as a plugin backend, through rekey's adapter: the key_id is the CryptoKeyVersion
// name that Encrypt used, as Google's k8s-cloudkms-plugin reports it, so a new primary version is
// a key_id change. Status reports the primary version.
import type { GcpKms } from '../../../../shared/adapters/gcp-kms/gcp-kms.ts';
import { BackendError, type KeyBackend } from './backend.ts';

export function gcpBackend(kms: GcpKms, keyName: string): KeyBackend {
  return {
    describe: `gcp ${keyName}`,
    current: async () => (await kms.getKey(keyName)).primaryVersion,
    async encrypt(plaintext) {
      const r = await kms.encrypt(keyName, plaintext);
      return { ciphertext: Buffer.from(r.ciphertext), keyId: r.keyVersion, annotations: {} };
    },
    async decrypt({ keyId, ciphertext }) {
      if (!keyId.startsWith(`${keyName}/cryptoKeyVersions/`)) {
        throw new BackendError(
          'not-found',
          `key_id ${JSON.stringify(keyId)} is not a version of ${keyName}`,
        );
      }
      return Buffer.from((await kms.decrypt(keyName, ciphertext)).plaintext);
    },
  };
}
