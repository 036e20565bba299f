// The exit codes a pipeline acts on: 0 only for a verified completion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT } from '../../../functions/cli/output.ts';
import { exitCode } from '../../../functions/cli/reconcile.ts';
import { stepOutcome } from '../../support/unit/functions-fixtures.ts';

const untilComplete = { timedOut: false, untilComplete: true };

describe('exitCode of rekey migrate / reconcile --until-complete', () => {
  it('is 0 for a verified completion', () => {
    const o = stepOutcome({ kind: 'complete', verified: true }, false, {
      phase: 'Completed',
      verified: true,
    });
    assert.equal(exitCode(o, untilComplete), EXIT.ok);
  });
  it('is 4 for a completion nothing verified', () => {
    const o = stepOutcome({ kind: 'complete', verified: false }, false, { phase: 'Completed' });
    assert.equal(exitCode(o, untilComplete), EXIT.unverifiable);
  });
  it('is 3, never 0, when it gave up waiting', () => {
    const o = stepOutcome({ kind: 'wait-convergence', reason: 'r', pending: ['a'] }, true, {
      phase: 'Converging',
    });
    assert.equal(exitCode(o, { timedOut: true, untilComplete: true }), EXIT.timeout);
    const migrating = stepOutcome({ kind: 'migrate' }, true);
    assert.equal(exitCode(migrating, { timedOut: true, untilComplete: true }), EXIT.timeout);
  });
  it('no provider to follow: 3 when the wait for one ran out, 1 at once when someone must pin one', () => {
    const waiting = { kind: 'no-provider' as const, wait: true, reason: 'nodes disagree' };
    assert.equal(exitCode(waiting, { timedOut: true, untilComplete: true }), EXIT.timeout);
    const unresolved = { kind: 'no-provider' as const, wait: false, reason: 'several write' };
    assert.equal(exitCode(unresolved, untilComplete), EXIT.notOk);
    assert.equal(exitCode(unresolved, { timedOut: false, untilComplete: false }), EXIT.notOk);
  });
  it('is 1 for Degraded', () => {
    const o = stepOutcome({ kind: 'degraded', reason: 'x', recoverable: false }, false, {
      phase: 'Degraded',
    });
    assert.equal(exitCode(o, untilComplete), EXIT.notOk);
    // a refusal someone must lift ends the wait at once, even when the time is up
    assert.equal(exitCode(o, { timedOut: true, untilComplete: true }), EXIT.notOk);
  });
  it('is 3 for a Degraded revision that could still change by itself when the time ran out', () => {
    const o = stepOutcome(
      { kind: 'degraded', reason: 'x', recoverable: true, retrying: true },
      true,
      {
        phase: 'Degraded',
      },
    );
    assert.equal(exitCode(o, { timedOut: true, untilComplete: true }), EXIT.timeout);
  });
  it('is 1 for a busy provider or no key_id at the end of the wait budget', () => {
    assert.equal(exitCode({ kind: 'busy', provider: 'p', heldBy: 'h' }, untilComplete), EXIT.notOk);
    assert.equal(
      exitCode(
        { kind: 'busy', provider: 'p', heldBy: 'h' },
        { timedOut: true, untilComplete: true },
      ),
      EXIT.timeout,
    );
  });
});
