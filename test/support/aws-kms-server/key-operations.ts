// Key lifecycle operations of the local KMS: CreateKey, DescribeKey, CreateAlias, Enable/DisableKey,
// Schedule/CancelKeyDeletion. Symmetric AWS_KMS keys only, which is what rekey rotates.
import type { KeyRecord, KmsModel } from './model.ts';
import {
  epochSeconds,
  type JsonObject,
  KmsFault,
  optionalInt,
  optionalString,
  requiredString,
  validation,
} from './wire.ts';

const DAY_MS = 86_400_000;

export function keyMetadata(model: KmsModel, key: KeyRecord): JsonObject {
  const meta: JsonObject = {
    AWSAccountId: model.options.account,
    KeyId: key.keyId,
    Arn: key.arn,
    CreationDate: epochSeconds(key.createdMs),
    Enabled: key.keyState === 'Enabled',
    Description: key.description,
    KeyUsage: 'ENCRYPT_DECRYPT',
    KeyState: key.keyState,
    Origin: 'AWS_KMS',
    KeyManager: 'CUSTOMER',
    CustomerMasterKeySpec: 'SYMMETRIC_DEFAULT',
    KeySpec: 'SYMMETRIC_DEFAULT',
    EncryptionAlgorithms: ['SYMMETRIC_DEFAULT'],
    MultiRegion: false,
    CurrentKeyMaterialId: key.currentMaterialId,
  };
  if (key.deletionMs !== undefined) meta.DeletionDate = epochSeconds(key.deletionMs);
  return meta;
}

function only(body: JsonObject, member: string, allowed: string): void {
  const value = optionalString(body, member);
  if (value !== undefined && value !== allowed) {
    throw new KmsFault(
      'UnsupportedOperationException',
      `The local KMS supports ${member} ${allowed} only, not ${value}.`,
    );
  }
}

export function createKey(model: KmsModel, body: JsonObject): JsonObject {
  only(body, 'KeySpec', 'SYMMETRIC_DEFAULT');
  only(body, 'CustomerMasterKeySpec', 'SYMMETRIC_DEFAULT');
  only(body, 'KeyUsage', 'ENCRYPT_DECRYPT');
  only(body, 'Origin', 'AWS_KMS');
  const description = optionalString(body, 'Description') ?? '';
  if (description.length > 8192) throw validation('description', 'Member must have length <= 8192');
  return { KeyMetadata: keyMetadata(model, model.createKey(description)) };
}

export function describeKey(model: KmsModel, body: JsonObject): JsonObject {
  return { KeyMetadata: keyMetadata(model, model.find(requiredString(body, 'KeyId'))) };
}

export function createAlias(model: KmsModel, body: JsonObject): JsonObject {
  model.createAlias(requiredString(body, 'AliasName'), requiredString(body, 'TargetKeyId'));
  return {};
}

export function enableKey(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  if (key.keyState === 'PendingDeletion') {
    throw new KmsFault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  key.keyState = 'Enabled';
  return {};
}

export function disableKey(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  if (key.keyState === 'PendingDeletion') {
    throw new KmsFault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  key.keyState = 'Disabled';
  return {};
}

export function scheduleKeyDeletion(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  const days = optionalInt(body, 'PendingWindowInDays', 7, 30) ?? 30;
  if (key.keyState === 'PendingDeletion') {
    throw new KmsFault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  key.keyState = 'PendingDeletion';
  key.deletionMs = model.options.now() + days * DAY_MS;
  return {
    KeyId: key.arn,
    DeletionDate: epochSeconds(key.deletionMs),
    KeyState: key.keyState,
    PendingWindowInDays: days,
  };
}

export function cancelKeyDeletion(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  if (key.keyState !== 'PendingDeletion') {
    throw new KmsFault('KMSInvalidStateException', `${key.arn} is not pending deletion.`);
  }
  key.keyState = 'Disabled'; // as at AWS: a key saved from deletion comes back disabled
  delete key.deletionMs;
  return { KeyId: key.arn };
}
