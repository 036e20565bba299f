// REKEY_STEP_MODE=delegate: a trigger function asks the reconcile function for a step with one
// typed dev.rekey.step.requested event, answers "handed-off", and turns a Broker that cannot take
// the request into a retryable 503 (the trigger is redelivered, not lost).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accepts, STEP_REQUEST_TYPE } from '../../../functions/reconcile/handler.ts';
import { handOff } from '../../../shared/app/hand-off.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { TransientError } from '../../../shared/http/errors.ts';
import type { EventSink, RekeyEvent } from '../../../shared/ports/event-sink.ts';

function recordingSink(emitted: RekeyEvent[], fail = false): EventSink {
  return {
    async emit(type, data) {
      if (fail) throw new Error('connect ECONNREFUSED 10.0.0.9:80');
      emitted.push({ type, data } as RekeyEvent);
    },
  };
}

describe('handOff', () => {
  it('emits one step request naming the provider and the asking function', async () => {
    const emitted: RekeyEvent[] = [];
    const handed = await handOff(recordingSink(emitted), 'aws-kms', 'kms-event')();
    assert.deepEqual(handed, { kind: 'handed-off', provider: 'aws-kms', to: 'reconcile' });
    assert.deepEqual(emitted, [
      { type: 'step.requested', data: { provider: 'aws-kms', requestedBy: 'kms-event' } },
    ]);
  });

  it('a Broker that refuses the request is a retryable TransientError, not a dropped trigger', async () => {
    const err = await handOff(recordingSink([], true), 'aws-kms', 'kms-event')().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof TransientError, 'a TransientError (503 with Retry-After)');
    assert.match(err.message, /could not hand the step to the reconcile function/);
  });

  it('the reconcile function accepts the step request type', () => {
    assert.equal(STEP_REQUEST_TYPE, 'dev.rekey.step.requested');
    assert.ok(accepts(STEP_REQUEST_TYPE));
  });

  it('delegate without K_SINK is refused at start-up, naming the setting', () => {
    assert.throws(
      () => loadConfig({ REKEY_PROVIDER: 'aws-kms', REKEY_STEP_MODE: 'delegate' }),
      /REKEY_STEP_MODE: delegate needs K_SINK/,
    );
    assert.throws(
      () => loadConfig({ REKEY_PROVIDER: 'aws-kms', REKEY_STEP_MODE: 'remote' }),
      /REKEY_STEP_MODE/,
    );
  });
});
