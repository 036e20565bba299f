// A KMS key in danger: noted on the newest revision (so every status shows it) and raised as one
// typed `key.danger` event carrying the key's name and the revision's key_id hash, never a key_id.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { clearKeyDanger, recordKeyDanger } from '../../../shared/core/record-key-danger.ts';
import { activeDangers, type DangerClearance } from '../../../shared/domain/key-danger.ts';
import type { KeyDangerNote } from '../../../shared/domain/revision.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type { EventSink, RekeyEvent } from '../../../shared/ports/event-sink.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';

const clock: Clock = { now: () => new Date('2025-01-01T02:00:00.000Z') };
const later: Clock = { now: () => new Date('2025-01-01T03:00:00.000Z') };
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

describe('recordKeyDanger: once per (key, what, time)', () => {
  it('a redelivered danger writes nothing and raises nothing again', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 })]);
    const { events, emitted } = recording();
    await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    const before = store.all()[0]?.updatedAt;
    for (let i = 0; i < 3; i++) {
      const again = await recordKeyDanger({ store, clock: later, events }, 'p', { ...NOTE });
      assert.deepEqual(again, { revision: rev({ number: 1 }).name, duplicate: true });
    }
    assert.equal(emitted.length, 1, 'raised once');
    assert.equal(store.all()[0]?.updatedAt, before, 'not written again');
  });

  it('a danger already noted on an older revision is not raised again on the newest', async () => {
    const store = createMemoryRevisionStore([
      { ...rev({ number: 1 }), keyDanger: NOTE },
      rev({ number: 2 }),
    ]);
    const { events, emitted } = recording();
    const r = await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    assert.equal(r.duplicate, true);
    assert.deepEqual(emitted, []);
  });

  it('another danger of the same key is kept next to the first', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 })]);
    const { events, emitted } = recording();
    await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    const disabled = { ...NOTE, what: 'disabled', at: '2025-01-01T02:30:00.000Z' };
    await recordKeyDanger({ store, clock, events }, 'p', disabled);
    assert.deepEqual(
      activeDangers(store.all()[0]?.keyDanger).map((d) => d.what),
      ['disabled', NOTE.what],
    );
    assert.equal(emitted.length, 2);
  });
});

describe('clearKeyDanger', () => {
  const CANCEL: DangerClearance = {
    key: NOTE.key,
    clears: [NOTE.what],
    at: '2025-01-02T08:00:00.000Z',
    via: 'aws-cloudtrail',
    by: 'CancelKeyDeletion',
  };

  it('marks the danger cleared: kept for history, no longer active', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 })]);
    const { events } = recording();
    await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    const r = await clearKeyDanger({ store, clock, events }, 'p', CANCEL);
    assert.deepEqual(r, {
      revision: rev({ number: 1 }).name,
      cleared: [{ what: NOTE.what, at: NOTE.at }],
      stillActive: 0,
    });
    const note = store.all()[0]?.keyDanger;
    assert.deepEqual(activeDangers(note), []);
    assert.deepEqual(note, {
      ...NOTE,
      cleared: { at: CANCEL.at, via: CANCEL.via, by: 'CancelKeyDeletion' },
    });
  });

  it('a redelivery of the cleared danger does not raise it again', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 })]);
    const { events, emitted } = recording();
    await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    await clearKeyDanger({ store, clock, events }, 'p', CANCEL);
    const again = await recordKeyDanger({ store, clock, events }, 'p', NOTE);
    assert.equal(again.duplicate, true);
    assert.equal(emitted.length, 1);
    assert.deepEqual(activeDangers(store.all()[0]?.keyDanger), []);
  });

  it('a clearance that ends nothing noted writes nothing', async () => {
    const store = createMemoryRevisionStore([rev({ number: 1 })]);
    const { events } = recording();
    const r = await clearKeyDanger({ store, clock, events }, 'p', CANCEL);
    assert.deepEqual(r, { revision: rev({ number: 1 }).name, cleared: [], stillActive: 0 });
    assert.equal(store.all()[0]?.keyDanger, undefined);
  });
});
