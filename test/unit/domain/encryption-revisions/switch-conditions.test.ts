// The EncryptionSwitch's status from what a controller tick saw: every stage maps to its
// Progressing reason, every failure to a Degraded reason, Completed only when the declared
// provider writes, and lastTransitionTime kept while a condition's status does not change.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  degradedReason,
  type EncryptionSwitchStatus,
  type SwitchStatusInput,
  switchStage,
  switchStatus,
} from '../../../../shared/domain/encryption-revisions/switch-conditions.ts';
import type { ConfigRevisionRecord } from '../../../../shared/domain/encryption-revisions/switch-state.ts';

const TARGET = 'kms:sandbox-kms-b';
const SW = { id: 2, target: TARGET, from: 'identity', to: TARGET, resources: ['secrets'] };
const found: ConfigRevisionRecord = { number: 1, stage: 'found', hash: 'h1', state: 'applied' };
const rev = (
  number: number,
  stage: ConfigRevisionRecord['stage'],
  state: ConfigRevisionRecord['state'],
  extra: Partial<ConfigRevisionRecord> = {},
): ConfigRevisionRecord => ({ number, stage, hash: `h${number}`, state, switch: SW, ...extra });

/** The records at each point of a switch identity -> kms:sandbox-kms-b. */
const AT = {
  addRead: [
    found,
    rev(2, 'add-read', 'rolling-out'),
    rev(3, 'write', 'planned'),
    rev(4, 'remove-old', 'planned'),
  ],
  promoteWrite: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'planned'),
    rev(4, 'remove-old', 'planned'),
  ],
  write: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'rolling-out'),
    rev(4, 'remove-old', 'planned'),
  ],
  migrate: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'applied'),
    rev(4, 'remove-old', 'planned'),
  ],
  verify: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'applied', { migration: 'migrated' }),
    rev(4, 'remove-old', 'planned'),
  ],
  removeOld: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'applied', { migration: 'verified' }),
    rev(4, 'remove-old', 'rolling-out'),
  ],
  done: [
    found,
    rev(2, 'add-read', 'applied'),
    rev(3, 'write', 'applied', { migration: 'verified' }),
    rev(4, 'remove-old', 'applied'),
  ],
} satisfies Record<string, ConfigRevisionRecord[]>;

const NOW = '2026-12-02T12:00:00.000Z';
const LIVE = [
  { id: 'a', node: 'node-a', applied: 'sha256:a' },
  { id: 'b', node: 'node-b', applied: 'sha256:b' },
];
const FRESH = [
  { node: 'node-a', revision: 2, fresh: true },
  { node: 'node-b', revision: 2, fresh: true },
];

function statusOf(over: Partial<SwitchStatusInput>): EncryptionSwitchStatus {
  return switchStatus({
    generation: 3,
    target: TARGET,
    result: { kind: 'ran', outcome: { state: 'progressing', message: 'waiting' } },
    records: AT.addRead,
    nodes: FRESH,
    apiservers: LIVE,
    now: NOW,
    ...over,
  });
}

const cond = (s: EncryptionSwitchStatus, type: string) => {
  const c = s.conditions.find((x) => x.type === type);
  assert.ok(c, `condition ${type}`);
  return [c.status, c.reason];
};

describe('EncryptionSwitch conditions', () => {
  it('each stage of a switch has its stage and Progressing reason', () => {
    const expected: [keyof typeof AT, string, string][] = [
      ['addRead', 'AddRead', 'AddingReadProvider'],
      ['promoteWrite', 'Write', 'SwitchingWriteProvider'],
      ['write', 'Write', 'SwitchingWriteProvider'],
      ['migrate', 'Migrate', 'Migrating'],
      ['verify', 'Verify', 'Verifying'],
      ['removeOld', 'RemoveOld', 'RemovingOldProvider'],
    ];
    for (const [at, stage, reason] of expected) {
      const s = statusOf({ records: AT[at] });
      assert.equal(s.stage, stage, at);
      assert.deepEqual(cond(s, 'Progressing'), ['True', reason], at);
      assert.deepEqual(cond(s, 'Completed'), ['False', 'NotDone'], at);
      assert.deepEqual(cond(s, 'Degraded'), ['False', 'AsExpected'], at);
    }
  });

  it('a migration cut by the budget (timeout) still progresses', () => {
    const s = statusOf({
      records: AT.migrate,
      result: { kind: 'ran', outcome: { state: 'timeout', message: 'stage 3 not finished' } },
    });
    assert.deepEqual(cond(s, 'Progressing'), ['True', 'Migrating']);
    assert.deepEqual(cond(s, 'Degraded'), ['False', 'AsExpected']);
  });

  it('no revision stored yet: waiting for the node agents', () => {
    const s = statusOf({ records: [], nodes: [] });
    assert.equal(s.stage, 'Pending');
    assert.equal(s.configRevision, null);
    assert.deepEqual(cond(s, 'Progressing'), ['True', 'WaitingForNodeAgents']);
  });

  it('completed: Switched when this target was switched to, AlreadyInPlace when nothing had to change', () => {
    const done = statusOf({
      records: AT.done,
      result: { kind: 'ran', outcome: { state: 'completed', message: 'switched' } },
    });
    assert.equal(done.stage, 'Done');
    assert.equal(done.configRevision, 4);
    assert.deepEqual(done.switchRevisions, [2, 3, 4]);
    assert.deepEqual(cond(done, 'Completed'), ['True', 'Switched']);
    assert.deepEqual(cond(done, 'Progressing'), ['False', 'Switched']);
    assert.deepEqual(cond(done, 'Degraded'), ['False', 'AsExpected']);
    const already = statusOf({
      target: 'identity',
      records: [found],
      result: { kind: 'ran', outcome: { state: 'completed', message: 'already written' } },
    });
    assert.equal(already.stage, 'Pending');
    assert.deepEqual(cond(already, 'Completed'), ['True', 'AlreadyInPlace']);
  });

  it('each failure has its Degraded reason, and stops Progressing', () => {
    const degraded = (records: ConfigRevisionRecord[], nodes = FRESH) =>
      statusOf({
        records,
        nodes,
        result: { kind: 'ran', outcome: { state: 'degraded', message: 'stopped' } },
      });
    const cases: [EncryptionSwitchStatus, string][] = [
      [
        degraded(AT.addRead, [
          { node: 'node-a', revision: 2, fresh: true },
          { node: 'node-b', revision: 2, fresh: true, error: 'EACCES' } as never,
        ]),
        'NodeAgentCannotApply',
      ],
      [degraded(AT.addRead), 'ApiserverReloadFailed'],
      [degraded(AT.migrate), 'RewriteRefused'],
      [degraded(AT.done), 'SwitchDegraded'],
      [
        statusOf({
          records: AT.verify,
          result: { kind: 'ran', outcome: { state: 'unverifiable', message: 'no etcd' } },
        }),
        'CannotProve',
      ],
      [
        statusOf({ result: { kind: 'refused', message: 'a switch to identity is in progress' } }),
        'Refused',
      ],
      [statusOf({ result: { kind: 'invalid', message: 'spec.target must be' } }), 'InvalidSpec'],
    ];
    for (const [s, reason] of cases) {
      assert.deepEqual(cond(s, 'Degraded'), ['True', reason]);
      assert.deepEqual(cond(s, 'Progressing'), ['False', reason]);
      assert.deepEqual(cond(s, 'Completed'), ['False', 'NotDone']);
    }
    assert.equal(degradedReason(AT.addRead, FRESH), 'ApiserverReloadFailed');
  });

  it('a failed tick is Unknown progress, Degraded TickFailed', () => {
    const s = statusOf({ result: { kind: 'failed', message: 'revision 2 changed meanwhile' } });
    assert.deepEqual(cond(s, 'Progressing'), ['Unknown', 'TickFailed']);
    assert.deepEqual(cond(s, 'Completed'), ['Unknown', 'TickFailed']);
    assert.deepEqual(cond(s, 'Degraded'), ['True', 'TickFailed']);
  });

  it("a node agent that stopped reporting on a live apiserver's node: Degraded, still Progressing", () => {
    const s = statusOf({
      nodes: [
        { node: 'node-a', revision: 2, fresh: true },
        { node: 'node-b', revision: 1, fresh: false },
        // a node with no live apiserver (drained) does not hold the switch up
        { node: 'node-gone', revision: 1, fresh: false },
      ],
    });
    assert.deepEqual(cond(s, 'Degraded'), ['True', 'NodeAgentNotReporting']);
    assert.match(s.conditions[2]?.message ?? '', /node-b/);
    assert.doesNotMatch(s.conditions[2]?.message ?? '', /node-gone/);
    assert.deepEqual(cond(s, 'Progressing'), ['True', 'AddingReadProvider']);
  });

  it('keeps lastTransitionTime while the status holds, and sets observedGeneration', () => {
    const first = statusOf({});
    const later = statusOf({
      now: '2026-12-02T12:05:00.000Z',
      previous: first.conditions,
      records: AT.write,
    });
    for (const c of later.conditions) {
      assert.equal(c.lastTransitionTime, NOW, `${c.type} did not change status`);
      assert.equal(c.observedGeneration, 3);
    }
    const done = statusOf({
      now: '2026-12-02T12:10:00.000Z',
      previous: later.conditions,
      records: AT.done,
      result: { kind: 'ran', outcome: { state: 'completed', message: 'switched' } },
    });
    const at = Object.fromEntries(done.conditions.map((c) => [c.type, c.lastTransitionTime]));
    assert.deepEqual(at, {
      Progressing: '2026-12-02T12:10:00.000Z',
      Completed: '2026-12-02T12:10:00.000Z',
      Degraded: NOW,
    });
    assert.equal(done.observedGeneration, 3);
  });

  it("reports each apiserver with its applied hash and its node agent's revision", () => {
    const s = statusOf({});
    assert.deepEqual(s.apiservers, [
      { id: 'a', node: 'node-a', appliedHash: 'sha256:a', nodeRevision: 2 },
      { id: 'b', node: 'node-b', appliedHash: 'sha256:b', nodeRevision: 2 },
    ]);
  });

  it('a rollback rolling out is RollingOut, not a stage of this switch', () => {
    const rolledBack = [
      { ...found, state: 'rolling-out' as const },
      rev(2, 'add-read', 'rolled-back'),
      rev(3, 'write', 'abandoned'),
      rev(4, 'remove-old', 'abandoned'),
    ];
    assert.equal(switchStage(rolledBack, TARGET), 'RollingOut');
    assert.equal(switchStage(AT.done, 'identity'), 'Pending');
  });
});
