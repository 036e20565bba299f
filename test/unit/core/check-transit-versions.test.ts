// A transit key whose min_decryption_version was raised above versions still in etcd: the check
// names exactly those versions, notes the danger on the newest revision and raises key.danger;
// with nothing below the minimum it records nothing; an unreadable server is "not checked", never
// "fine".
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { checkTransitVersions } from '../../../shared/core/check-transit-versions.ts';
import type { KeyInventory } from '../../../shared/domain/key-inventory.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type { EventSink, RekeyEvent } from '../../../shared/ports/event-sink.ts';
import type { TransitKeyReader } from '../../../shared/ports/transit-key-reader.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';

const clock: Clock = { now: () => new Date('2025-01-01T02:00:00.000Z') };
const KEY = 'transit/keys/kms';

const inventory: KeyInventory = {
  prefix: '/registry',
  totalScanned: 12,
  rows: [
    {
      kind: 'kms-v2',
      provider: 'p',
      keyId: '3',
      keyIdHash: 'h3',
      total: 6,
      byPath: { secrets: 6 },
    },
    {
      kind: 'kms-v2',
      provider: 'p',
      keyId: '2',
      keyIdHash: 'h2',
      total: 4,
      byPath: { secrets: 4 },
    },
    {
      kind: 'kms-v2',
      provider: 'q',
      keyId: '1',
      keyIdHash: 'h1',
      total: 2,
      byPath: { secrets: 2 },
    },
  ],
};

const reader = (minDecryptionVersion: number): TransitKeyReader => ({
  key: KEY,
  read: async () => ({ latestVersion: 3, minDecryptionVersion }),
});

function recording(): { events: EventSink; emitted: RekeyEvent[] } {
  const emitted: RekeyEvent[] = [];
  return {
    emitted,
    events: { emit: async (type, data) => void emitted.push({ type, data } as RekeyEvent) },
  };
}

describe('checkTransitVersions', () => {
  it('names the versions etcd still holds below min_decryption_version and records a key danger', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1, keyId: '3' })]);
    const { events, emitted } = recording();
    const r = await checkTransitVersions({ store, clock, events }, 'p', inventory, reader(3));
    assert.ok(r.checked);
    assert.deepEqual(r.undecryptable, [
      { provider: 'q', keyId: '1', version: 1, objects: 2 },
      { provider: 'p', keyId: '2', version: 2, objects: 4 },
    ]);
    const what =
      'transit/keys/kms: min_decryption_version is 3, so version 1 (2 object(s)) under provider q, version 2 (4 object(s)) under provider p still in etcd can no longer be decrypted';
    assert.equal(r.danger, what);
    assert.deepEqual(store.all()[0]?.keyDanger, {
      key: KEY,
      what,
      at: '2025-01-01T02:00:00.000Z',
      via: 'transit-key-check',
    });
    assert.deepEqual(
      emitted.map((e) => e.type),
      ['key.danger'],
    );
  });

  it('records nothing when every version in etcd can still be decrypted', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1, keyId: '3' })]);
    const { events, emitted } = recording();
    const r = await checkTransitVersions({ store, clock, events }, 'p', inventory, reader(1));
    assert.ok(r.checked);
    assert.deepEqual(r.undecryptable, []);
    assert.equal(r.danger, undefined);
    assert.equal(store.all()[0]?.keyDanger, undefined);
    assert.deepEqual(emitted, []);
  });

  it('finds the danger under the provider written before a switch, not only the followed one', async () => {
    // followed: p2 (key_ids that are AWS ARNs, never judged); the transit key is behind p1
    const switched: KeyInventory = {
      prefix: '/registry',
      totalScanned: 5,
      rows: [
        {
          kind: 'kms-v2',
          provider: 'p2',
          keyId: 'arn:aws:kms:eu-west-1:1:key/k',
          keyIdHash: 'ha',
          total: 2,
          byPath: { secrets: 2 },
        },
        {
          kind: 'kms-v2',
          provider: 'p1',
          keyId: '2',
          keyIdHash: 'h2',
          total: 3,
          byPath: { secrets: 3 },
        },
      ],
    };
    const store = createMemoryRevisionStore([
      rev({ number: 1, provider: 'p2', keyId: 'arn:aws:kms:eu-west-1:1:key/k' }),
    ]);
    const { events, emitted } = recording();
    const r = await checkTransitVersions({ store, clock, events }, 'p2', switched, reader(3));
    assert.ok(r.checked);
    assert.deepEqual(r.undecryptable, [{ provider: 'p1', keyId: '2', version: 2, objects: 3 }]);
    assert.match(r.danger ?? '', /version 2 \(3 object\(s\)\) under provider p1/);
    assert.equal(store.all()[0]?.keyDanger?.what, r.danger);
    assert.deepEqual(
      emitted.map((e) => e.type),
      ['key.danger'],
    );
  });

  it('says the key could not be checked when the server does not answer', async () => {
    const store = createMemoryRevisionStore();
    const failing: TransitKeyReader = {
      key: KEY,
      read: async () => {
        throw new Error('read transit/keys/kms: no answer from http://vault:8200: ECONNREFUSED');
      },
    };
    const r = await checkTransitVersions({ store, clock }, 'p', inventory, failing);
    assert.deepEqual(r, {
      checked: false,
      key: KEY,
      reason: 'read transit/keys/kms: no answer from http://vault:8200: ECONNREFUSED',
    });
  });
});
