// Rotation operations of the local KMS: Enable/DisableKeyRotation, GetKeyRotationStatus,
// RotateKeyOnDemand (asynchronous, as at AWS) and ListKeyRotations (paged with Limit/Marker).
import type { KmsModel } from './model.ts';
import {
  epochSeconds,
  type JsonObject,
  KmsFault,
  optionalInt,
  optionalString,
  requiredString,
} from './wire.ts';

export function enableKeyRotation(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.findUsable(requiredString(body, 'KeyId'));
  model.enableRotation(key, optionalInt(body, 'RotationPeriodInDays', 90, 2560) ?? 365);
  return {};
}

export function disableKeyRotation(model: KmsModel, body: JsonObject): JsonObject {
  model.disableRotation(model.findUsable(requiredString(body, 'KeyId')));
  return {};
}

export function getKeyRotationStatus(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  if (key.keyState === 'PendingDeletion') {
    throw new KmsFault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
  }
  const out: JsonObject = { KeyId: key.arn, KeyRotationEnabled: key.rotationEnabled };
  if (key.rotationEnabled) {
    out.RotationPeriodInDays = key.rotationPeriodInDays;
    if (key.nextRotationMs !== undefined) out.NextRotationDate = epochSeconds(key.nextRotationMs);
  }
  if (key.pending) out.OnDemandRotationStartDate = epochSeconds(key.pending.startedMs);
  return out;
}

export function rotateKeyOnDemand(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.findUsable(requiredString(body, 'KeyId'));
  model.startOnDemandRotation(key);
  return { KeyId: key.keyId };
}

interface Marker {
  offset: number;
}

function encodeMarker(marker: Marker): string {
  return Buffer.from(JSON.stringify(marker), 'utf8').toString('base64url');
}

function decodeMarker(value: string): Marker {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(value, 'base64url').toString('utf8'));
    const offset = (parsed as Partial<Marker>).offset;
    if (typeof offset === 'number' && Number.isInteger(offset) && offset >= 0) return { offset };
  } catch {
    // answered below
  }
  throw new KmsFault(
    'InvalidMarkerException',
    'The marker that specifies where pagination should next begin is not valid.',
  );
}

export function listKeyRotations(model: KmsModel, body: JsonObject): JsonObject {
  const key = model.find(requiredString(body, 'KeyId'));
  const limit = optionalInt(body, 'Limit', 1, 1000) ?? 100;
  const marker = optionalString(body, 'Marker');
  const offset = marker === undefined ? 0 : decodeMarker(marker).offset;
  const all: JsonObject[] = [];
  const state = (materialId: string) =>
    materialId === key.currentMaterialId ? 'CURRENT' : 'NON_CURRENT';
  // ALL_KEY_MATERIAL also lists the first material, which no rotation made.
  if (optionalString(body, 'IncludeKeyMaterial') === 'ALL_KEY_MATERIAL') {
    all.push({
      KeyId: key.keyId,
      KeyMaterialId: key.originalMaterialId,
      KeyMaterialState: state(key.originalMaterialId),
    });
  }
  for (const r of key.rotations) {
    all.push({
      KeyId: key.keyId,
      KeyMaterialId: r.materialId,
      KeyMaterialState: state(r.materialId),
      RotationDate: epochSeconds(r.dateMs),
      RotationType: r.type,
    });
  }
  const page = all.slice(offset, offset + limit);
  const truncated = offset + limit < all.length;
  const out: JsonObject = { Rotations: page, Truncated: truncated };
  if (truncated) out.NextMarker = encodeMarker({ offset: offset + limit });
  return out;
}
