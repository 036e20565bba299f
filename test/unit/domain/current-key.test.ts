// underCurrentKey, the one test the proof and the plan share: only a well-formed KMS v2 value of
// the provider under exactly that key_id is current.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { underCurrentKey } from '../../../shared/domain/current-key.ts';
import type { ScannedValue } from '../../../shared/domain/proof.ts';

const key = '/registry/secrets/ns/s';
const cases: [string, ScannedValue, boolean][] = [
  ['KMS v2, the provider, the key_id', { key, kind: 'kms-v2', provider: 'p', keyID: 'k2' }, true],
  ['an older key_id', { key, kind: 'kms-v2', provider: 'p', keyID: 'k1' }, false],
  [
    'another provider with the same key_id',
    { key, kind: 'kms-v2', provider: 'q', keyID: 'k2' },
    false,
  ],
  [
    'KMS v1 (only a v2 rewrite moves it)',
    { key, kind: 'kms-v1', provider: 'p', keyID: 'k2' },
    false,
  ],
  [
    'malformed, whatever it names',
    { key, kind: 'kms-v2', provider: 'p', keyID: 'k2', error: 'bad envelope' },
    false,
  ],
  ['plaintext', { key, kind: 'identity' }, false],
];

describe('underCurrentKey', () => {
  for (const [what, value, want] of cases) {
    it(`${what}: ${want}`, () => assert.equal(underCurrentKey(value, 'p', 'k2'), want));
  }
});
