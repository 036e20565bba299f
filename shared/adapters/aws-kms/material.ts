// Which key material is current, from what AWS told us, and the key identity derived from it
// (docs/kms-facts.md §8). Pure: the I/O lives in keys.ts.
import type { AwsKeyRotation } from './types.ts';

/** The material of a key that has never rotated (or cannot rotate) and names no material id. */
export const ORIGINAL_MATERIAL = 'original';

/** The marker for a rotation an emulator lists without a KeyMaterialId (moto): its date. */
function rotationMarker(rotation: AwsKeyRotation, index: number): string {
  const date = rotation.rotationDate;
  return date ? `rotation@${date.toISOString()}` : `rotation-${index + 1}`;
}

/**
 * The current material: DescribeKey's `CurrentKeyMaterialId` when present, else the material of the
 * newest completed rotation (by date, the later-listed winning ties), else `original`. A newest
 * rotation without a KeyMaterialId yields `rotation@<date>`, which still changes on every rotation.
 */
export function pickCurrentMaterial(
  currentKeyMaterialId: string | undefined,
  rotations: readonly AwsKeyRotation[],
): string {
  if (currentKeyMaterialId) return currentKeyMaterialId;
  let newest: { rotation: AwsKeyRotation; index: number } | undefined;
  rotations.forEach((rotation, index) => {
    const t = rotation.rotationDate?.getTime() ?? Number.NEGATIVE_INFINITY;
    const best = newest?.rotation.rotationDate?.getTime() ?? Number.NEGATIVE_INFINITY;
    if (!newest || t >= best) newest = { rotation, index };
  });
  if (!newest) return ORIGINAL_MATERIAL;
  return newest.rotation.keyMaterialId || rotationMarker(newest.rotation, newest.index);
}

/** `<KeyArn>#<material>`, what the sandbox plugin's `aws` backend reports as key_id. */
export function formatKeyIdentity(keyArn: string, material: string): string {
  return `${keyArn}#${material}`;
}

/** Splits a key identity at its last `#`; undefined for a string that is not one. */
export function parseKeyIdentity(
  identity: string,
): { keyArn: string; material: string } | undefined {
  const at = identity.lastIndexOf('#');
  if (at <= 0 || at === identity.length - 1) return undefined;
  return { keyArn: identity.slice(0, at), material: identity.slice(at + 1) };
}
