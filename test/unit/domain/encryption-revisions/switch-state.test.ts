// Which revision the nodes run and what a switch does next, from the stored revisions alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ConfigRevisionRecord,
  desiredRevision,
  nextRevisionNumber,
  nextSwitchAction,
  rollbackTarget,
} from '../../../../shared/domain/encryption-revisions/switch-state.ts';

const sw = { id: 2, target: 'kms:k', from: 'identity', to: 'kms:k', resources: ['secrets'] };
const rev = (
  number: number,
  stage: ConfigRevisionRecord['stage'],
  state: ConfigRevisionRecord['state'],
  extra: Partial<ConfigRevisionRecord> = {},
): ConfigRevisionRecord => ({
  number,
  stage,
  state,
  hash: `sha256:${number}`,
  ...(stage === 'found' ? {} : { switch: sw }),
  ...extra,
});

describe('switch state', () => {
  it('the desired revision is the highest rolling out or applied', () => {
    const revs = [
      rev(1, 'found', 'applied'),
      rev(2, 'add-read', 'rolled-back'),
      rev(3, 'write', 'abandoned'),
    ];
    assert.equal(desiredRevision(revs)?.number, 1);
    assert.equal(nextRevisionNumber(revs), 4);
    assert.equal(desiredRevision([]), undefined);
  });

  it('converge, then promote, migrate before removing the old provider, then complete', () => {
    const base = [rev(1, 'found', 'applied')];
    assert.deepEqual(nextSwitchAction([]), { kind: 'no-revisions' });
    assert.deepEqual(nextSwitchAction(base), { kind: 'idle', desired: 1 });
    const planned = [
      ...base,
      rev(2, 'add-read', 'rolling-out'),
      rev(3, 'write', 'planned'),
      rev(4, 'remove-old', 'planned'),
    ];
    assert.deepEqual(nextSwitchAction(planned), { kind: 'converge', revision: 2 });
    const s1 = planned.map((r) => (r.number === 2 ? { ...r, state: 'applied' as const } : r));
    assert.deepEqual(nextSwitchAction(s1), { kind: 'promote', revision: 3 });
    const s2 = s1.map((r) => (r.number === 3 ? { ...r, state: 'applied' as const } : r));
    assert.deepEqual(nextSwitchAction(s2), { kind: 'migrate', revision: 3 });
    const migrated = s2.map((r) => (r.number === 3 ? { ...r, migration: 'migrated' as const } : r));
    assert.deepEqual(nextSwitchAction(migrated), { kind: 'migrate', revision: 3 });
    const verified = s2.map((r) => (r.number === 3 ? { ...r, migration: 'verified' as const } : r));
    assert.deepEqual(nextSwitchAction(verified), { kind: 'promote', revision: 4 });
    const done = verified.map((r) => (r.number === 4 ? { ...r, state: 'applied' as const } : r));
    assert.deepEqual(nextSwitchAction(done), { kind: 'complete', revision: 4 });
  });

  it('a rollback goes to the highest applied revision below the desired one', () => {
    const revs = [
      rev(1, 'found', 'applied'),
      rev(2, 'add-read', 'applied'),
      rev(3, 'write', 'rolling-out'),
      rev(4, 'remove-old', 'planned'),
    ];
    const t = rollbackTarget(revs);
    assert.ok(!('refused' in t));
    assert.equal(t.from.number, 3);
    assert.equal(t.to.number, 2);
    assert.deepEqual(rollbackTarget([rev(1, 'found', 'applied')]), {
      refused: 'revision 1 has no applied revision before it',
    });
  });
});
