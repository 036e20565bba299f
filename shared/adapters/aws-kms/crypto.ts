// Encrypt and Decrypt under a KMS key, for the sandbox plugin's `aws` backend wrapping its DEK seed.
import { DecryptCommand, EncryptCommand, type KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsPermanentError, mapped } from './errors.ts';
import type {
  AwsDecryptResult,
  AwsEncryptResult,
  DecryptOptions,
  EncryptionOptions,
} from './types.ts';

function malformed(operation: string, what: string): AwsKmsPermanentError {
  return new AwsKmsPermanentError(`AWS KMS ${operation}: answer without ${what}`, {
    code: 'MalformedResponse',
    operation,
  });
}

export async function encrypt(
  kms: KMSClient,
  keyId: string,
  plaintext: Uint8Array,
  { encryptionContext }: EncryptionOptions = {},
): Promise<AwsEncryptResult> {
  const out = await mapped('Encrypt', () =>
    kms.send(
      new EncryptCommand({
        KeyId: keyId,
        Plaintext: plaintext,
        EncryptionContext: encryptionContext,
      }),
    ),
  );
  if (!out.CiphertextBlob) throw malformed('Encrypt', 'CiphertextBlob');
  return { ciphertext: out.CiphertextBlob, keyArn: out.KeyId ?? keyId };
}

export async function decrypt(
  kms: KMSClient,
  ciphertext: Uint8Array,
  { keyId, encryptionContext }: DecryptOptions = {},
): Promise<AwsDecryptResult> {
  const out = await mapped('Decrypt', () =>
    kms.send(
      new DecryptCommand({
        CiphertextBlob: ciphertext,
        KeyId: keyId,
        EncryptionContext: encryptionContext,
      }),
    ),
  );
  if (!out.Plaintext) throw malformed('Decrypt', 'Plaintext');
  const result: AwsDecryptResult = { plaintext: out.Plaintext };
  if (out.KeyId) result.keyArn = out.KeyId;
  if (out.KeyMaterialId) result.keyMaterialId = out.KeyMaterialId;
  return result;
}
