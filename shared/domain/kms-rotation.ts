// One shape for a rotation the KMS itself reports (AWS EventBridge or CloudTrail, GCP audit log,
// Azure Event Grid, or the KMS API), from the event parser through the assessment to the note a
// revision keeps. The note is derived from it, so the three can never disagree on a field.
// Pure: no I/O.

export type KmsCloud = 'aws' | 'gcp' | 'azure';

/**
 * `key`: the key ARN (AWS), the CryptoKey resource name (GCP), the Key Vault key id URL without
 * version (Azure). `newMaterialId`: the new material id (AWS), version number (GCP) or version
 * (Azure), when the KMS names it. `via`: where it was reported, e.g. `aws-eventbridge`.
 * `at`: ISO 8601.
 */
export interface KmsRotation {
  cloud: KmsCloud;
  key: string;
  /** Other names of the same key (e.g. AWS aliases), when the caller resolved them. */
  aliases?: readonly string[];
  newMaterialId?: string;
  previousMaterialId?: string;
  at: string;
  via: string;
}

/** What a rotation meant for the provider (shared/domain/hidden-rotation.ts decides it). */
export type KmsRotationVerdict = 'key-id-changed' | 'hidden' | 'not-yet-adopted';

/**
 * A rotation as recorded on a revision. Its fields are stored as they are (a revision annotation),
 * so `materialId` keeps its stored name.
 */
export interface KmsRotationNote {
  key: string;
  at: string;
  materialId?: string;
  verdict: KmsRotationVerdict;
  explanation: string;
}

/** The note a revision keeps of `rotation`, given what it meant. */
export function rotationNote(
  rotation: KmsRotation,
  meaning: { kind: KmsRotationVerdict; explanation: string },
): KmsRotationNote {
  return {
    key: rotation.key,
    at: rotation.at,
    ...(rotation.newMaterialId ? { materialId: rotation.newMaterialId } : {}),
    verdict: meaning.kind,
    explanation: meaning.explanation,
  };
}
