// rekey's AWS KMS adapter: one factory binding the operations to one SDK client. A composition
// root (`main.ts`) calls it; everything else receives the AwsKms it returns.
import type { KMSClient } from '@aws-sdk/client-kms';
import { type AwsKmsClientOptions, createKmsClient } from './client.ts';
import { decrypt, encrypt } from './crypto.ts';
import { currentMaterial, describeKey, keyIdentity } from './keys.ts';
import { listRotations, rotateOnDemand, rotationStatus } from './rotation.ts';
import type { AwsKms } from './types.ts';

export type { AwsKmsClientOptions } from './client.ts';
export {
  AwsKmsError,
  AwsKmsPermanentError,
  AwsKmsTransientError,
  toAwsKmsError,
} from './errors.ts';
export {
  formatKeyIdentity,
  ORIGINAL_MATERIAL,
  parseKeyIdentity,
  pickCurrentMaterial,
} from './material.ts';
export type * from './types.ts';

export interface CreateAwsKmsOptions extends AwsKmsClientOptions {
  /** An SDK client to use instead of building one (the other options are then ignored). */
  client?: KMSClient;
}

/**
 * @example
 * const kms = createAwsKms({ region: 'eu-west-1' }); // credentials: the standard chain (IRSA)
 * const keyId = await kms.keyIdentity('alias/cluster-secrets');
 * // 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-…#96083e4f…'
 */
export function createAwsKms({ client, ...options }: CreateAwsKmsOptions = {}): AwsKms {
  const kms = client ?? createKmsClient(options);
  const current = (keyId: string) => currentMaterial(kms, keyId);
  return {
    describeKey: (keyId, opts) => describeKey(kms, keyId, opts),
    rotationStatus: (keyId) => rotationStatus(kms, keyId),
    listRotations: (keyId, opts) => listRotations(kms, keyId, opts),
    rotateOnDemand: (keyId, opts) => rotateOnDemand(kms, keyId, current, opts),
    currentMaterial: current,
    keyIdentity: (keyId) => keyIdentity(kms, keyId),
    encrypt: (keyId, plaintext, opts) => encrypt(kms, keyId, plaintext, opts),
    decrypt: (ciphertext, opts) => decrypt(kms, ciphertext, opts),
    close: () => kms.destroy(),
  };
}
