// A KMS key in danger: noted on the newest revision (so every status shows it) and raised as one
// typed `key.danger` event carrying the key's name and the revision's key_id hash, never a key_id.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { recordKeyDanger } from '../../../shared/core/record-key-danger.ts';
import type { KeyDangerNote } from '../../../shared/domain/revision.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type { EventSink, RekeyEvent } from '../../../shared/ports/event-sink.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';

const clock: Clock = { now: () => new Date('2025-01-01T02:00:00.000Z') };
const NOTE: KeyDangerNote = {
  key: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  what: 'deletion scheduled',
  at: '2025-01-01T01:59:00.000Z',
  via: 'aws-eventbridge',
};

function recording(): { events: EventSink; emitted: RekeyEvent[] } {
  const emitted: RekeyEvent[] = [];
  return {
    emitted,
    events: {
      async emit(type, data) {
        emitted.push({ type, data } as RekeyEvent);
      },
    },
  };
}

describe('recordKeyDanger', () => {
  it('notes the danger on the newest revision and emits key.danger naming it', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 }), rev({ number: 2 })]);
    const { events, emitted } = recording();
    const r = await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    const newest = rev({ number: 2 });
    assert.deepEqual(r, { revision: newest.name });
    assert.deepEqual(
      store.all().map((x) => [x.name, x.keyDanger]),
      [
        [rev({ number: 1 }).name, undefined],
        [newest.name, NOTE],
      ],
    );
    assert.deepEqual(emitted, [
      {
        type: 'key.danger',
        data: {
          provider: 'p',
          revision: newest.name,
          keyIdHash: newest.keyIdHash,
          what: NOTE.what,
          key: NOTE.key,
          at: NOTE.at,
        },
      },
    ]);
    assert.ok(!JSON.stringify(emitted).includes('"k2"'), 'the hash is sent, never the key_id');
  });

  it('with no revision yet, still raises the danger for the provider', async () => {
    const { events, emitted } = recording();
    const r = await recordKeyDanger(
      { store: createMemoryRevisionStore(), clock, events },
      'p',
      NOTE,
    );
    assert.deepEqual(r, {});
    assert.deepEqual(emitted, [
      { type: 'key.danger', data: { provider: 'p', what: NOTE.what, key: NOTE.key, at: NOTE.at } },
    ]);
  });
});
