// The stale/current split of a listed page: only a valid KMS v2 value of the provider under the
// target key_id is current; anything else, or nothing in etcd, is rewritten.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { type StoredEncryption, splitStale } from '../../../shared/domain/stale-split.ts';

const target = { provider: 'p', key: { keyId: 'k2', keyIdHash: keyIdHash('k2') } };

describe('splitStale', () => {
  it('keeps as current only KMS v2 of the provider under the target key_id', () => {
    const cases: [string, StoredEncryption | undefined][] = [
      ['current', { kind: 'kms-v2', provider: 'p', keyID: 'k2' }],
      ['older key', { kind: 'kms-v2', provider: 'p', keyID: 'k1' }],
      ['other provider', { kind: 'kms-v2', provider: 'q', keyID: 'k2' }],
      ['kms v1', { kind: 'kms-v1', provider: 'p' }],
      ['aescbc', { kind: 'aescbc', provider: 'key1' }],
      ['identity', { kind: 'identity' }],
      ['malformed', { kind: 'kms-v2', provider: 'p', keyID: 'k2', error: 'bad envelope' }],
      ['unknown prefix', { kind: 'unknown', error: 'unrecognised' }],
      ['missing in etcd', undefined],
    ];
    const split = splitStale(
      cases.map(([name]) => name),
      cases.map(([, s]) => s),
      target,
    );
    assert.deepEqual(split.current, ['current']);
    assert.deepEqual(
      split.stale,
      cases.slice(1).map(([name]) => name),
    );
  });

  it('compares by hash when the revision knows only the hash', () => {
    const hashOnly = { provider: 'p', key: { keyId: '', keyIdHash: keyIdHash('k2') } };
    const split = splitStale(
      ['a', 'b'],
      [
        { kind: 'kms-v2', provider: 'p', keyID: 'k2' },
        { kind: 'kms-v2', provider: 'p', keyID: 'k1' },
      ],
      hashOnly,
    );
    assert.deepEqual(split, { current: ['a'], stale: ['b'] });
  });

  it('keeps the page order in both halves', () => {
    const cur = { kind: 'kms-v2', provider: 'p', keyID: 'k2' } as const;
    const old = { kind: 'kms-v2', provider: 'p', keyID: 'k1' } as const;
    const split = splitStale([1, 2, 3, 4, 5], [old, cur, old, cur, old], target);
    assert.deepEqual(split, { stale: [1, 3, 5], current: [2, 4] });
  });

  it('refuses a reader that answered for a different number of objects', () => {
    assert.throws(() => splitStale(['a', 'b'], [undefined], target), RangeError);
  });
});
