// Key dangers on a revision: noted once per (key, what, time), cleared (not forgotten) by the KMS
// event that ends them, whatever order the events arrive in.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  activeDangers,
  type DangerClearance,
  dangersIn,
  MAX_KEPT_DANGERS,
  noteOf,
  planClearance,
  planDanger,
} from '../../../shared/domain/key-danger.ts';
import type { KeyDangerNote } from '../../../shared/domain/revision.ts';

const KEY = 'projects/p/locations/l/keyRings/r/cryptoKeys/k';
const danger = (over: Partial<KeyDangerNote> = {}): KeyDangerNote => ({
  key: KEY,
  what: 'version-disabled',
  at: '2025-05-06T12:00:04.000Z',
  via: 'gcp-audit-log',
  version: '2',
  ...over,
});
const enable = (over: Partial<DangerClearance> = {}): DangerClearance => ({
  key: KEY,
  clears: ['version-disabled'],
  at: '2025-05-06T12:41:30.000Z',
  via: 'gcp-audit-log',
  by: 'UpdateCryptoKeyVersion',
  version: '2',
  ...over,
});

function recorded(note: KeyDangerNote | undefined, d: KeyDangerNote): KeyDangerNote {
  const plan = planDanger(note, d);
  assert.equal(plan.action, 'record');
  return plan.action === 'record' ? plan.note : (note as KeyDangerNote);
}

describe('planDanger', () => {
  it('the same (key, what, time) is a duplicate, in any time notation', () => {
    const note = recorded(undefined, danger());
    assert.deepEqual(planDanger(note, danger({ at: '2025-05-06T12:00:04Z' })), {
      action: 'duplicate',
    });
    assert.deepEqual(planDanger(undefined, danger(), [danger()]), { action: 'duplicate' });
  });

  it('another time or another danger is recorded, newest first', () => {
    const first = recorded(undefined, danger());
    const second = recorded(
      first,
      danger({ what: 'version-destroyed', at: '2025-05-07T00:00:00.000Z' }),
    );
    assert.deepEqual(
      dangersIn(second).map((d) => d.what),
      ['version-destroyed', 'version-disabled'],
    );
  });

  it('a danger arriving after the event that ended it is recorded as already cleared', () => {
    const note = recorded(undefined, danger());
    const cleared = planClearance(note, enable())?.note;
    const late = planDanger(cleared, danger({ at: '2025-05-06T12:10:00.000Z' }));
    assert.equal(late.action, 'record');
    if (late.action === 'record') {
      assert.equal(late.active, false);
      assert.deepEqual(activeDangers(late.note), []);
    }
  });
});

describe('planClearance', () => {
  it('ends the matching danger and keeps it, marked cleared', () => {
    const plan = planClearance(recorded(undefined, danger()), enable());
    assert.ok(plan);
    assert.deepEqual(plan.cleared, [danger()]);
    assert.deepEqual(plan.note, {
      ...danger(),
      cleared: { at: enable().at, via: 'gcp-audit-log', by: 'UpdateCryptoKeyVersion' },
    });
    assert.deepEqual(activeDangers(plan.note), []);
  });

  it('ends nothing for another version, another danger, another key, or an older clearance', () => {
    const note = recorded(undefined, danger());
    for (const other of [
      enable({ version: '3' }),
      enable({ clears: ['version-destroyed'] }),
      enable({ key: `${KEY}2` }),
      enable({ at: '2025-05-06T11:00:00.000Z' }),
    ]) {
      assert.equal(planClearance(note, other), undefined, JSON.stringify(other));
    }
  });
});

describe('noteOf', () => {
  it(`keeps at most ${MAX_KEPT_DANGERS}, dropping the oldest cleared ones first`, () => {
    const many = Array.from({ length: MAX_KEPT_DANGERS + 5 }, (_, i) =>
      danger({
        at: new Date(Date.UTC(2025, 0, 1 + i)).toISOString(),
        ...(i < 10 ? { cleared: { at: '2026-01-01T00:00:00.000Z', via: 'x', by: 'y' } } : {}),
      }),
    );
    const kept = dangersIn(noteOf(many));
    assert.equal(kept.length, MAX_KEPT_DANGERS);
    assert.equal(kept.filter((d) => !d.cleared).length, 15, 'every active danger is kept');
  });
});
