// "Rotate now" for the KMS key behind a provider, where the KMS can: AWS on-demand rotation
// (new material, asynchronous, waited for), GCP (new version made primary) or a Vault / OpenBao
// transit key (a new version, the one encryption uses from then on). Chosen by the shape of
// REKEY_KMS_KEY; endpoint overrides exist for local endpoints in tests.
import { parseTransitKey, transitKeyId } from '../domain/transit-key.ts';
import { createAwsKms } from './aws-kms/index.ts';
import { localKmsClientOptions } from './gcp-kms/client.ts';
import { createGcpKms } from './gcp-kms/gcp-kms.ts';
import { createVaultTransit, type VaultTransitOptions } from './vault-transit/client.ts';

export interface KmsRotator {
  /** `aws`, `gcp` or `vault-transit`, and the key. */
  readonly describe: string;
  /**
   * Rotates and resolves with what is current afterwards (AWS material id, GCP version name, the
   * transit key's latest version: the key_id Vault KMS plugins report).
   */
  rotate(): Promise<{ key: string; current: string }>;
}

export interface KmsRotatorOptions {
  key: string;
  awsEndpoint?: string;
  gcpEndpoint?: string;
  /** For a local endpoint only: the AWS SDK needs some credentials to sign with. */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string };
  /** The server and token of a transit key (`<mount>/keys/<name>`). */
  vault?: Omit<VaultTransitOptions, 'timeoutMs'>;
}

/**
 * A rotator for `key`, or undefined when the key is of a KMS rekey cannot rotate (Azure), or a
 * transit key without its server.
 */
export function createKmsRotator({
  key,
  awsEndpoint,
  gcpEndpoint,
  awsCredentials,
  vault,
}: KmsRotatorOptions): KmsRotator | undefined {
  if (parseTransitKey(key)) {
    if (!vault) return undefined;
    const transit = createVaultTransit(vault);
    return {
      describe: `vault-transit ${key}`,
      async rotate() {
        return { key, current: transitKeyId((await transit.rotate(key)).latestVersion) };
      },
    };
  }
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
