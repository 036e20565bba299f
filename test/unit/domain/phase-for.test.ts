// The phase each step of the state machine stores for humans and metrics.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type Phase, phaseFor, type Step } from '../../../shared/domain/phase.ts';

describe('phaseFor', () => {
  const table: [Step, Phase][] = [
    [{ kind: 'wait-convergence', reason: '', pending: [] }, 'Converging'],
    [{ kind: 'migrate' }, 'Migrating'],
    [{ kind: 'verify' }, 'Verifying'],
    [{ kind: 'complete', verified: false }, 'Completed'],
    [{ kind: 'degraded', reason: '', recoverable: true }, 'Degraded'],
  ];
  for (const [step, phase] of table) {
    it(`${step.kind} -> ${phase}`, () => assert.equal(phaseFor(step, 'Observed'), phase));
  }
  for (const current of ['Completed', 'Observed'] as const) {
    it(`nothing-to-do keeps ${current}`, () => {
      assert.equal(phaseFor({ kind: 'nothing-to-do', reason: '' }, current), current);
    });
  }
  // a retry pass ends Completed or Degraded on its own step: no flapping phase in between
  for (const current of ['Degraded', 'Verifying'] as const) {
    it(`retry keeps ${current}`, () => {
      assert.equal(phaseFor({ kind: 'retry' }, current), current);
    });
  }
});
