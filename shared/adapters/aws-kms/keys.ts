// Reading a key: its description, its current material, and the identity derived from both.
import { DescribeKeyCommand, type KeyMetadata, type KMSClient } from '@aws-sdk/client-kms';
import { AwsKmsError, AwsKmsPermanentError, mapped } from './errors.ts';
import { formatKeyIdentity, ORIGINAL_MATERIAL, pickCurrentMaterial } from './material.ts';
import { listRotations, rotationStatus } from './rotation.ts';
import type { AwsKeyDescription } from './types.ts';

async function metadata(kms: KMSClient, keyId: string): Promise<KeyMetadata & { Arn: string }> {
  const out = await mapped('DescribeKey', () => kms.send(new DescribeKeyCommand({ KeyId: keyId })));
  const meta = out.KeyMetadata;
  if (!meta?.Arn || !meta.KeyId) {
    throw new AwsKmsPermanentError(`AWS KMS DescribeKey: ${keyId}: answer without Arn or KeyId`, {
      code: 'MalformedResponse',
      operation: 'DescribeKey',
    });
  }
  return meta as KeyMetadata & { Arn: string };
}

function isUnsupported(err: unknown): boolean {
  return err instanceof AwsKmsError && err.code === 'UnsupportedOperationException';
}

export async function describeKey(
  kms: KMSClient,
  keyId: string,
  { withRotationStatus = false }: { withRotationStatus?: boolean } = {},
): Promise<AwsKeyDescription> {
  const meta = await metadata(kms, keyId);
  const description: AwsKeyDescription = {
    arn: meta.Arn,
    keyId: meta.KeyId ?? keyId,
    keyState: meta.KeyState ?? 'Unknown',
    origin: meta.Origin ?? 'Unknown',
  };
  if (meta.CurrentKeyMaterialId) description.currentKeyMaterialId = meta.CurrentKeyMaterialId;
  if (meta.KeySpec) description.keySpec = meta.KeySpec;
  if (withRotationStatus) {
    try {
      description.rotationEnabled = (await rotationStatus(kms, meta.Arn)).enabled;
    } catch (err) {
      // Asymmetric, HMAC and custom-key-store keys cannot rotate: leave it unknown.
      if (!isUnsupported(err)) throw err;
    }
  }
  return description;
}

async function materialOf(kms: KMSClient, meta: KeyMetadata & { Arn: string }): Promise<string> {
  if (meta.CurrentKeyMaterialId) return meta.CurrentKeyMaterialId;
  try {
    return pickCurrentMaterial(undefined, await listRotations(kms, meta.Arn));
  } catch (err) {
    if (isUnsupported(err)) return ORIGINAL_MATERIAL; // a key that cannot rotate keeps its material
    throw err;
  }
}

export async function currentMaterial(kms: KMSClient, keyId: string): Promise<string> {
  return materialOf(kms, await metadata(kms, keyId));
}

export async function keyIdentity(kms: KMSClient, keyId: string): Promise<string> {
  const meta = await metadata(kms, keyId);
  return formatKeyIdentity(meta.Arn, await materialOf(kms, meta));
}
