// AWS KMS as a plugin backend, through rekey's adapter. The key_id is `<KeyArn>#<CurrentKeyMaterialId>`,
// so an AWS rotation (new material, same ARN) becomes a key_id change the apiservers act on: rekey's
// answer to aws-encryption-provider, whose key_id (the ARN) never changes.
// Limit: AWS Encrypt does not say which material it used, so a rotation landing between the
// identity read and Encrypt labels one seed with the previous material; Decrypt does not care (AWS
// finds the material from the ciphertext) and the next Status corrects the label.
import type { AwsKms } from '../../../../shared/adapters/aws-kms/types.ts';
import { BackendError, type KeyBackend } from './backend.ts';

export const AWS_ANNOTATION_KEY = 'aws.kms.rekey.dev';

export function awsBackend(kms: AwsKms, keyArn: string): KeyBackend {
  return {
    describe: `aws ${keyArn}`,
    current: () => kms.keyIdentity(keyArn),
    async encrypt(plaintext) {
      const keyId = await kms.keyIdentity(keyArn);
      const r = await kms.encrypt(keyArn, plaintext);
      return {
        ciphertext: Buffer.from(r.ciphertext),
        keyId,
        annotations: { [AWS_ANNOTATION_KEY]: Buffer.from('v1') },
      };
    },
    async decrypt({ keyId, ciphertext }) {
      if (!keyId.startsWith(`${keyArn}#`)) {
        throw new BackendError(
          'not-found',
          `key_id ${JSON.stringify(keyId)} is not of key ${keyArn}`,
        );
      }
      return Buffer.from((await kms.decrypt(ciphertext, { keyId: keyArn })).plaintext);
    },
  };
}
