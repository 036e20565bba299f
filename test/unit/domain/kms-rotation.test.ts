// One shape for a KMS rotation: a trigger carries it whole, and a revision's note is derived from
// it, keeping the note's stored field names.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type KmsTrigger, rotationOf } from '../../../shared/domain/events/kms-trigger.ts';
import { type KmsRotation, rotationNote } from '../../../shared/domain/kms-rotation.ts';

const rotation: KmsRotation = {
  cloud: 'aws',
  key: 'arn:aws:kms:eu-west-1:111122223333:key/k',
  newMaterialId: 'mat-2',
  previousMaterialId: 'mat-1',
  at: '2025-01-01T00:30:00.000Z',
  via: 'aws-eventbridge',
};

describe('KmsRotation', () => {
  it('a rotated trigger is the rotation with its tag', () => {
    const trigger: KmsTrigger = { kind: 'rotated', ...rotation };
    assert.ok(trigger.kind === 'rotated');
    assert.deepEqual(rotationOf(trigger), rotation);
  });

  it('the note keeps key, time, material (as materialId) and what it meant', () => {
    assert.deepEqual(rotationNote(rotation, { kind: 'hidden', explanation: 'why' }), {
      key: rotation.key,
      at: rotation.at,
      materialId: 'mat-2',
      verdict: 'hidden',
      explanation: 'why',
    });
    const { newMaterialId: _, ...withoutMaterial } = rotation;
    assert.equal(
      'materialId' in rotationNote(withoutMaterial, { kind: 'hidden', explanation: '' }),
      false,
    );
  });
});
