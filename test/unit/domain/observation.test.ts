// newestObservation: what a key_id is now, for readers (plan, a KMS rotation's assessment).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newestObservation, type Observation } from '../../../shared/domain/observation.ts';

const seen = (keyId: string, observedAt: string): Observation => ({
  provider: 'p',
  keyId,
  source: 'plugin-status',
  observedAt,
});

describe('newestObservation', () => {
  it('is the most recent, wherever it is in the list', () => {
    const got = newestObservation([
      seen('k1', '2025-01-01T00:00:00Z'),
      seen('k3', '2025-01-01T00:02:00Z'),
      seen('k2', '2025-01-01T00:01:00Z'),
    ]);
    assert.equal(got?.keyId, 'k3');
  });

  it('compares times, not strings (offsets differ)', () => {
    const got = newestObservation([
      seen('utc', '2025-01-01T10:00:00Z'),
      seen('plus-two', '2025-01-01T11:00:00+02:00'),
    ]);
    assert.equal(got?.keyId, 'utc');
  });

  it('keeps the first of equals, and is undefined for none', () => {
    const at = '2025-01-01T00:00:00Z';
    assert.equal(newestObservation([seen('a', at), seen('b', at)])?.keyId, 'a');
    assert.equal(newestObservation([]), undefined);
  });
});
