// What the KMS says is current for REKEY_KMS_KEY (AWS: the key material id; GCP: the primary
// version; Vault / OpenBao transit: the latest version), shown next to a key observed from the apiservers' metrics so a person can tell which
// KMS key version it likely is. Never compared with a key_id: plugins name keys their own way.
import { parseTransitKey } from '../domain/transit-key.ts';
import { createAwsKms } from './aws-kms/index.ts';
import { localKmsClientOptions } from './gcp-kms/client.ts';
import { createGcpKms } from './gcp-kms/gcp-kms.ts';
import { createVaultTransit, type VaultTransitOptions } from './vault-transit/client.ts';

export interface KmsCurrentOptions {
  key: string;
  awsEndpoint?: string;
  gcpEndpoint?: string;
  /** The server and token of a transit key (`<mount>/keys/<name>`). */
  vault?: Omit<VaultTransitOptions, 'timeoutMs'>;
}

const GCP_KEY = /^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/;

/** A reader for `key`, or undefined for a KMS rekey has no adapter for (Azure). */
export function createKmsCurrent({
  key,
  awsEndpoint,
  gcpEndpoint,
  vault,
}: KmsCurrentOptions): (() => Promise<string>) | undefined {
  if (parseTransitKey(key)) {
    if (!vault) return undefined;
    const transit = createVaultTransit(vault);
    return async () =>
      `vault-transit ${key} latest version ${(await transit.readKey(key)).latestVersion}`;
  }
  if (key.startsWith('arn:aws')) {
    const region = key.split(':')[3];
    return async () => {
      const kms = createAwsKms({
        ...(region ? { region } : {}),
        ...(awsEndpoint ? { endpoint: awsEndpoint } : {}),
      });
      try {
        return `aws ${key} material ${await kms.currentMaterial(key)}`;
      } finally {
        kms.close();
      }
    };
  }
  if (GCP_KEY.test(key)) {
    return async () => {
      const kms = createGcpKms(gcpEndpoint ? localKmsClientOptions(gcpEndpoint) : {});
      try {
        return `gcp primary ${(await kms.getKey(key)).primaryVersion}`;
      } finally {
        await kms.close();
      }
    };
  }
  return undefined;
}
