// The rotation state machine, path by path: every step kind, the plugin gate, verification
// freshness and availability, per-object failures with and without etcd, a list refused for good,
// a Completed revision whose scope grew, hidden rotations, and phaseFor.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ObjectFailure } from '../../../shared/domain/migration-counts.ts';
import {
  decideNextStep,
  type Step,
  type StepInput,
  UNVERIFIED_NOTE,
} from '../../../shared/domain/phase.ts';
import { counts, minute } from '../../support/unit/domain-fixtures.ts';

const converged = { converged: true, reason: 'all 2 live apiserver(s) report key', pending: [] };
const notConverged = { converged: false, reason: '1 of 2 pending', pending: ['sha256:b'] };
const running = { done: false, counts: counts({ listed: 500 }), failed: [] };
const finished = { done: true, counts: counts({ listed: 9 }), failed: [], finishedAt: minute(10) };
const failure: ObjectFailure = { namespace: 'ns', name: 's1', reason: 'denied by webhook "w"' };
const finishedWithFailure = { ...finished, counts: counts({ failed: 1 }), failed: [failure] };
const clean = { clean: true, offenders: [], checkedAt: minute(11) };
const dirty = {
  clean: false,
  offenders: ['secrets/ns/a', 'secrets/ns/b'],
  offenderCount: 7,
  checkedAt: minute(11),
};
const { finishedAt: _finishedAt, ...finishedAtUnknown } = finished;
const { offenderCount: _offenderCount, ...dirtyUncounted } = dirty;

function input(over: Partial<StepInput> = {}): StepInput {
  return {
    revision: { name: 'encryption-key-p-2', phase: 'Migrating' },
    convergence: converged,
    migration: running,
    verification: { configured: false },
    plugin: { status: 'healthy' },
    ...over,
  };
}

const cases: { name: string; input: StepInput; want: Step }[] = [
  {
    name: 'a Completed revision needs nothing',
    input: input({ revision: { name: 'encryption-key-p-2', phase: 'Completed' } }),
    want: { kind: 'nothing-to-do', reason: 'encryption-key-p-2 is already Completed' },
  },
  {
    name: 'a forced Completed revision needs nothing, even on a hidden rotation',
    input: input({
      revision: { name: 'encryption-key-p-2', phase: 'Completed', forced: true },
      hiddenRotation: true,
    }),
    want: { kind: 'nothing-to-do', reason: 'encryption-key-p-2 is already Completed' },
  },
  {
    name: 'not converged: wait, with the pending apiservers',
    input: input({ revision: { name: 'r', phase: 'Observed' }, convergence: notConverged }),
    want: { kind: 'wait-convergence', reason: '1 of 2 pending', pending: ['sha256:b'] },
  },
  {
    name: 'not converged although the migration is done: wait (no verify before adoption)',
    input: input({ convergence: notConverged, migration: finished }),
    want: { kind: 'wait-convergence', reason: '1 of 2 pending', pending: ['sha256:b'] },
  },
  {
    name: 'not converged and the plugin is down: Degraded, recoverable',
    input: input({ convergence: notConverged, plugin: { status: 'unhealthy', reason: 'EOF' } }),
    want: {
      kind: 'degraded',
      reason: 'KMS plugin unhealthy (EOF): the migration waits until it recovers',
      recoverable: true,
    },
  },
  {
    name: 'converged, not done: migrate',
    input: input({ revision: { name: 'r', phase: 'Converging' } }),
    want: { kind: 'migrate' },
  },
  {
    name: 'plugin health unknown does not block',
    input: input({ plugin: { status: 'unknown' } }),
    want: { kind: 'migrate' },
  },
  {
    name: 'plugin down during the migration: Degraded, recoverable',
    input: input({ plugin: { status: 'unhealthy', reason: 'deadline exceeded' } }),
    want: {
      kind: 'degraded',
      reason: 'KMS plugin unhealthy (deadline exceeded): the migration waits until it recovers',
      recoverable: true,
    },
  },
  {
    name: 'a Degraded revision whose cause is gone resumes',
    input: input({ revision: { name: 'r', phase: 'Degraded' } }),
    want: { kind: 'migrate' },
  },
  {
    name: 'per-object failures do not stop a running migration',
    input: input({ migration: { ...running, counts: counts({ failed: 1 }), failed: [failure] } }),
    want: { kind: 'migrate' },
  },
  {
    name: 'a hidden rotation does not stop a migration in flight',
    input: input({ hiddenRotation: true }),
    want: { kind: 'migrate' },
  },
  {
    name: 'a list refused for good: Degraded naming it, not recoverable by itself',
    input: input({ migration: { ...running, blocked: 'cannot list widgets.example.com: 403' } }),
    want: { kind: 'degraded', reason: 'cannot list widgets.example.com: 403', recoverable: false },
  },
  {
    name: 'a refused list weighs nothing once the migration is done',
    input: input({ migration: { ...finished, blocked: 'cannot list secrets: 403' } }),
    want: { kind: 'complete', verified: false, note: UNVERIFIED_NOTE },
  },
  {
    name: 'a refused list does not skip the adoption gate',
    input: input({
      convergence: notConverged,
      migration: { ...running, blocked: 'cannot list secrets: 403' },
    }),
    want: { kind: 'wait-convergence', reason: '1 of 2 pending', pending: ['sha256:b'] },
  },
  {
    name: 'a Completed revision whose scope grew (a started migration not done) re-opens',
    input: input({
      revision: { name: 'r', phase: 'Completed' },
      migration: { ...running, started: true },
    }),
    want: { kind: 'migrate' },
  },
  {
    name: 'a Completed revision never started stays Completed (nothing in scope to re-open)',
    input: input({
      revision: { name: 'r', phase: 'Completed' },
      migration: { ...running, started: false },
    }),
    want: { kind: 'nothing-to-do', reason: 'r is already Completed' },
  },
  {
    name: 'a re-opened Completed revision waits for adoption like any other',
    input: input({
      revision: { name: 'r', phase: 'Completed' },
      convergence: notConverged,
      migration: { ...running, started: true },
      hiddenRotation: true,
    }),
    // its migration ran under this key_id once: losing the gate now is a regression
    want: {
      kind: 'wait-convergence',
      reason: '1 of 2 pending',
      pending: ['sha256:b'],
      regressed: true,
    },
  },
  {
    name: 'etcd unreachable only matters when a scan is needed: migrate first',
    input: input({ verification: { configured: true, unavailable: 'ECONNREFUSED' } }),
    want: { kind: 'migrate' },
  },
  {
    name: 'done without etcd access: complete, unverified',
    input: input({ migration: finished }),
    want: { kind: 'complete', verified: false, note: UNVERIFIED_NOTE },
  },
  {
    name: 'done without etcd, objects failed: Degraded, not recoverable by itself, retried',
    input: input({ migration: finishedWithFailure }),
    want: {
      kind: 'degraded',
      reason:
        '1 object(s) could not be rewritten: ns/s1 (denied by webhook "w"); without etcd access ' +
        'nothing proves they are under the current key',
      recoverable: false,
      retrying: true,
    },
  },
  {
    name: 'failures counted beyond the names kept',
    input: input({ migration: { ...finished, counts: counts({ failed: 3 }), failed: [] } }),
    want: {
      kind: 'degraded',
      reason:
        '3 object(s) could not be rewritten; without etcd access nothing proves they are under the current key',
      recoverable: false,
      retrying: true,
    },
  },
  {
    name: 'done with etcd, not yet scanned: verify',
    input: input({ migration: finished, verification: { configured: true } }),
    want: { kind: 'verify' },
  },
  {
    name: 'verification ignores plugin health',
    input: input({
      migration: finished,
      verification: { configured: true },
      plugin: { status: 'unhealthy', reason: 'x' },
    }),
    want: { kind: 'verify' },
  },
  {
    name: 'a scan older than the end of the migration does not count: verify again',
    input: input({
      migration: finished,
      verification: { configured: true, result: { ...clean, checkedAt: minute(9) } },
    }),
    want: { kind: 'verify' },
  },
  {
    name: 'etcd configured but unreachable: Degraded, recoverable',
    input: input({
      migration: finished,
      verification: { configured: true, unavailable: 'ECONNREFUSED' },
    }),
    want: {
      kind: 'degraded',
      reason: 'etcd verification is configured but unavailable: ECONNREFUSED',
      recoverable: true,
    },
  },
  {
    name: 'a fresh clean scan completes, verified, even if etcd is now unreachable',
    input: input({
      migration: finished,
      verification: { configured: true, result: clean, unavailable: 'down' },
    }),
    want: { kind: 'complete', verified: true },
  },
  {
    name: 'a clean scan without a known end time counts',
    input: input({
      migration: finishedAtUnknown,
      verification: { configured: true, result: { ...clean, checkedAt: minute(0) } },
    }),
    want: { kind: 'complete', verified: true },
  },
  {
    name: 'failed objects but a clean scan: complete, verified, with a note',
    input: input({
      migration: finishedWithFailure,
      verification: { configured: true, result: clean },
    }),
    want: {
      kind: 'complete',
      verified: true,
      note:
        '1 object(s) could not be rewritten: ns/s1 (denied by webhook "w"); the etcd scan found ' +
        'none of them under an older key_id',
    },
  },
  {
    name: 'offenders after the migration: Degraded, naming them; a re-patch may move them',
    input: input({ migration: finished, verification: { configured: true, result: dirty } }),
    want: {
      kind: 'degraded',
      reason:
        'etcd verification found 7 object(s) still under an older key_id: secrets/ns/a, secrets/ns/b',
      recoverable: true,
      retrying: true,
    },
  },
  {
    name: 'offenders and failures: both in the reason',
    input: input({
      migration: finishedWithFailure,
      verification: { configured: true, result: dirtyUncounted },
    }),
    want: {
      kind: 'degraded',
      reason:
        'etcd verification found 2 object(s) still under an older key_id: secrets/ns/a, ' +
        'secrets/ns/b; 1 object(s) could not be rewritten: ns/s1 (denied by webhook "w")',
      recoverable: false,
      retrying: true,
    },
  },
];

describe('decideNextStep', () => {
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(decideNextStep(c.input), c.want));
  }

  it('explains a hidden rotation on a Completed revision', () => {
    const step = decideNextStep(
      input({ revision: { name: 'r', phase: 'Completed' }, hiddenRotation: true }),
    );
    assert.equal(step.kind, 'nothing-to-do');
    assert.ok(step.kind === 'nothing-to-do');
    assert.match(step.reason, /key_id is unchanged: no object became stale/);
  });

  it('names a cluster-scoped failure without a namespace', () => {
    const step = decideNextStep(
      input({
        migration: {
          ...finished,
          counts: counts({ failed: 1 }),
          failed: [{ ...failure, namespace: '' }],
        },
      }),
    );
    assert.ok(step.kind === 'degraded');
    assert.match(step.reason, /rewritten: s1 \(/);
  });
});

describe('decideNextStep: objects that kept a revision Degraded are retried', () => {
  const due = { due: true };
  const retryCases: { name: string; input: StepInput; want: Step }[] = [
    {
      name: 'offenders, a pass due: re-patch them',
      input: input({
        revision: { name: 'r', phase: 'Degraded' },
        migration: finished,
        verification: { configured: true, result: dirty },
        retry: due,
      }),
      want: { kind: 'retry' },
    },
    {
      name: 'refused objects without etcd, a pass due: re-patch them',
      input: input({ migration: finishedWithFailure, retry: due }),
      want: { kind: 'retry' },
    },
    {
      name: 'refused and offending objects, a pass due: re-patch them',
      input: input({
        migration: finishedWithFailure,
        verification: { configured: true, result: dirty },
        retry: due,
      }),
      want: { kind: 'retry' },
    },
    {
      name: 'only strays outside the scope: nothing of rekey re-patches them, not recoverable',
      input: input({
        migration: finished,
        verification: {
          configured: true,
          result: {
            clean: false,
            offenders: ['deployments/ns/x'],
            strays: 1,
            checkedAt: minute(11),
          },
        },
        retry: due,
      }),
      want: {
        kind: 'degraded',
        reason: 'etcd verification found 1 object(s) still under an older key_id: deployments/ns/x',
        recoverable: false,
      },
    },
    {
      name: 'offenders and strays: retried, but not recoverable by itself',
      input: input({
        migration: finished,
        verification: {
          configured: true,
          result: {
            clean: false,
            offenders: ['secrets/ns/a', 'deployments/ns/x'],
            strays: 1,
            checkedAt: minute(11),
          },
        },
      }),
      want: {
        kind: 'degraded',
        reason:
          'etcd verification found 2 object(s) still under an older key_id: secrets/ns/a, deployments/ns/x',
        recoverable: false,
        retrying: true,
      },
    },
    {
      name: 'a scan that proves nothing is not retried',
      input: input({
        migration: finished,
        verification: {
          configured: true,
          result: {
            clean: false,
            offenders: [],
            problems: ['empty prefix'],
            checkedAt: minute(11),
          },
        },
        retry: due,
      }),
      want: {
        kind: 'degraded',
        reason: 'etcd verification proves nothing: empty prefix',
        recoverable: false,
      },
    },
    {
      name: 'a pass due while the plugin is unhealthy: wait for the plugin',
      input: input({
        migration: finishedWithFailure,
        plugin: { status: 'unhealthy', reason: 'down' },
        retry: due,
      }),
      want: {
        kind: 'degraded',
        reason: 'KMS plugin unhealthy (down): the migration waits until it recovers',
        recoverable: true,
      },
    },
    {
      name: 'a clean scan completes even with a pass due',
      input: input({
        migration: finishedWithFailure,
        verification: { configured: true, result: clean },
        retry: due,
      }),
      want: {
        kind: 'complete',
        verified: true,
        note:
          '1 object(s) could not be rewritten: ns/s1 (denied by webhook "w"); the etcd scan found ' +
          'none of them under an older key_id',
      },
    },
    {
      name: 'an apiserver that kept failing: recoverable Degraded, resumed from the checkpoint',
      input: input({ migration: { ...running, unavailable: 'HTTP 503 (5 attempts)' } }),
      want: {
        kind: 'degraded',
        reason:
          'the apiserver is not answering (HTTP 503 (5 attempts)): the migration resumes from its checkpoint on a later step',
        recoverable: true,
      },
    },
  ];
  for (const c of retryCases) {
    it(c.name, () => assert.deepEqual(decideNextStep(c.input), c.want));
  }
});
