// "Rotate now" for the cloud key behind a provider, where the cloud can: AWS on-demand rotation
// (new material, asynchronous, waited for) or GCP (new version made primary). Chosen by the shape
// of REKEY_KMS_KEY; endpoint overrides exist for local endpoints in tests.
import { createAwsKms } from './aws-kms/index.ts';
import { localKmsClientOptions } from './gcp-kms/client.ts';
import { createGcpKms } from './gcp-kms/gcp-kms.ts';

export interface KmsRotator {
  /** `aws` or `gcp`, and the key. */
  readonly describe: string;
  /** Rotates and resolves with what is current afterwards (AWS material id, GCP version name). */
  rotate(): Promise<{ key: string; current: string }>;
}

export interface KmsRotatorOptions {
  key: string;
  awsEndpoint?: string;
  gcpEndpoint?: string;
  /** For a local endpoint only: the AWS SDK needs some credentials to sign with. */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string };
}

/** A rotator for `key`, or undefined when the key is of a KMS rekey cannot rotate (Azure, Vault). */
export function createKmsRotator({
  key,
  awsEndpoint,
  gcpEndpoint,
  awsCredentials,
}: KmsRotatorOptions): KmsRotator | undefined {
  if (key.startsWith('arn:aws')) {
    const region = key.split(':')[3];
    return {
      describe: `aws ${key}`,
      async rotate() {
        const kms = createAwsKms({
          ...(region ? { region } : {}),
          ...(awsEndpoint ? { endpoint: awsEndpoint } : {}),
          ...(awsCredentials ? { credentials: awsCredentials } : {}),
        });
        try {
          return { key, current: await kms.rotateOnDemand(key) };
        } finally {
          kms.close();
        }
      },
    };
  }
  if (/^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/.test(key)) {
    return {
      describe: `gcp ${key}`,
      async rotate() {
        const kms = createGcpKms(gcpEndpoint ? localKmsClientOptions(gcpEndpoint) : {});
        try {
          return { key, current: await kms.rotateNow(key) };
        } finally {
          await kms.close();
        }
      },
    };
  }
  return undefined;
}
