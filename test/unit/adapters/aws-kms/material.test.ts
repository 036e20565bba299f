// Which AWS key material is current, and the `<KeyArn>#<material>` identity built from it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatKeyIdentity,
  ORIGINAL_MATERIAL,
  parseKeyIdentity,
  pickCurrentMaterial,
} from '../../../../shared/adapters/aws-kms/material.ts';

const A = 'a'.repeat(64);
const B = 'b'.repeat(64);
const C = 'c'.repeat(64);
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const at = (iso: string) => new Date(iso);

describe('pickCurrentMaterial', () => {
  it('prefers CurrentKeyMaterialId over any rotation', () => {
    assert.equal(
      pickCurrentMaterial(A, [{ keyMaterialId: B, rotationDate: at('2025-01-01T00:00:00Z') }]),
      A,
    );
  });

  it('falls back to the newest rotation by date, whatever the listing order', () => {
    const rotations = [
      { keyMaterialId: C, rotationDate: at('2025-03-01T00:00:00Z') },
      { keyMaterialId: B, rotationDate: at('2025-01-01T00:00:00Z') },
    ];
    assert.equal(pickCurrentMaterial(undefined, rotations), C);
  });

  it('lets the later-listed entry win a tie', () => {
    const d = at('2025-03-01T00:00:00Z');
    assert.equal(
      pickCurrentMaterial(undefined, [
        { keyMaterialId: B, rotationDate: d },
        { keyMaterialId: C, rotationDate: d },
      ]),
      C,
    );
  });

  it('names a rotation without KeyMaterialId (moto) by its date', () => {
    assert.equal(
      pickCurrentMaterial(undefined, [{ rotationDate: at('2025-03-01T10:00:00.123Z') }]),
      'rotation@2025-03-01T10:00:00.123Z',
    );
    assert.equal(pickCurrentMaterial(undefined, [{}, {}]), 'rotation-2');
  });

  it('is the original material for a key that never rotated', () => {
    assert.equal(pickCurrentMaterial(undefined, []), ORIGINAL_MATERIAL);
    assert.equal(pickCurrentMaterial('', []), ORIGINAL_MATERIAL);
  });
});

describe('key identity', () => {
  it('formats and parses <KeyArn>#<material>', () => {
    const identity = formatKeyIdentity(ARN, A);
    assert.equal(identity, `${ARN}#${A}`);
    assert.deepEqual(parseKeyIdentity(identity), { keyArn: ARN, material: A });
    assert.deepEqual(
      parseKeyIdentity(formatKeyIdentity(ARN, 'rotation@2025-03-01T10:00:00.123Z')),
      {
        keyArn: ARN,
        material: 'rotation@2025-03-01T10:00:00.123Z',
      },
    );
  });

  it('rejects strings that are not identities', () => {
    for (const s of [ARN, `${ARN}#`, `#${A}`, '']) assert.equal(parseKeyIdentity(s), undefined);
  });
});
