// Rotation: its status, the list of completed rotations, and an on-demand rotation that waits for
// AWS to finish (RotateKeyOnDemand only starts it; `OnDemandRotationStartDate` stays set meanwhile).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  GetKeyRotationStatusCommand,
  type KMSClient,
  paginateListKeyRotations,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import { AwsKmsTransientError, mapped } from './errors.ts';
import type { AwsKeyRotation, AwsRotationStatus, RotateOnDemandOptions } from './types.ts';

export async function rotationStatus(kms: KMSClient, keyId: string): Promise<AwsRotationStatus> {
  const out = await mapped('GetKeyRotationStatus', () =>
    kms.send(new GetKeyRotationStatusCommand({ KeyId: keyId })),
  );
  const status: AwsRotationStatus = { enabled: out.KeyRotationEnabled === true };
  const { OnDemandRotationStartDate: started, NextRotationDate: next } = out;
  if (started) status.onDemandRotationStartDate = started;
  if (next) status.nextRotationDate = next;
  if (out.RotationPeriodInDays !== undefined)
    status.rotationPeriodInDays = out.RotationPeriodInDays;
  return status;
}

export async function listRotations(
  kms: KMSClient,
  keyId: string,
  { pageSize }: { pageSize?: number } = {},
): Promise<AwsKeyRotation[]> {
  const rotations: AwsKeyRotation[] = [];
  // stopOnSameToken: a marker that does not advance must end the loop, not spin on it.
  const pages = paginateListKeyRotations(
    { client: kms, stopOnSameToken: true, ...(pageSize !== undefined ? { pageSize } : {}) },
    { KeyId: keyId },
  );
  await mapped('ListKeyRotations', async () => {
    for await (const page of pages) {
      for (const r of page.Rotations ?? []) {
        const rotation: AwsKeyRotation = {};
        if (r.KeyMaterialId) rotation.keyMaterialId = r.KeyMaterialId;
        if (r.RotationDate) rotation.rotationDate = r.RotationDate;
        if (r.RotationType) rotation.rotationType = r.RotationType;
        if (r.KeyMaterialState) rotation.keyMaterialState = r.KeyMaterialState;
        rotations.push(rotation);
      }
    }
  });
  return rotations;
}

/**
 * Starts an on-demand rotation, then polls until AWS reports it finished: no
 * `OnDemandRotationStartDate` any more and a current material other than the one before.
 * Resolves with the new current material; rejects with AwsKmsTransientError `RotationPending`
 * when `timeoutMs` passes first (the rotation itself goes on at AWS).
 */
export async function rotateOnDemand(
  kms: KMSClient,
  keyId: string,
  currentMaterial: (keyId: string) => Promise<string>,
  { pollMs = 2000, timeoutMs = 600_000 }: RotateOnDemandOptions = {},
): Promise<string> {
  const before = await currentMaterial(keyId);
  await mapped('RotateKeyOnDemand', () => kms.send(new RotateKeyOnDemandCommand({ KeyId: keyId })));
  const deadline = Date.now() + timeoutMs;
  let last = { pending: true, material: before };
  for (;;) {
    const status = await rotationStatus(kms, keyId);
    const pending = status.onDemandRotationStartDate !== undefined;
    // KMS is eventually consistent: right after the call the status may not show the rotation
    // yet, so a finished rotation is also one whose material differs from before.
    const material = pending ? before : await currentMaterial(keyId);
    last = { pending, material };
    if (!pending && material !== before) return material;
    if (Date.now() + pollMs > deadline) break;
    await sleep(pollMs);
  }
  const why = last.pending
    ? 'OnDemandRotationStartDate is still set'
    : `the current material is still ${before}`;
  throw new AwsKmsTransientError(
    `AWS KMS RotateKeyOnDemand: ${keyId} did not finish rotating within ${timeoutMs} ms: ${why}`,
    { code: 'RotationPending', operation: 'RotateKeyOnDemand' },
  );
}
