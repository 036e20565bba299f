// REKEY_STEP_MODE=delegate: the trigger functions never run a reconcile step themselves; each asks
// the reconcile function for one with a dev.rekey.step.requested event, answers "handed-off", and
// turns a Broker that cannot take the request into a retryable 503 (the trigger is redelivered,
// not lost). With `local` they run the step in their own request, as `rekey serve` does.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { handOff, STEP_REQUESTED } from '../../../functions/hand-off.ts';
import { mountFunction } from '../../../functions/mount-all.ts';
import { accepts, STEP_REQUEST_TYPE } from '../../../functions/reconcile/handler.ts';
import type { Runtime } from '../../../functions/runtime.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import type { ReconcileConfig, ReconcileDeps } from '../../../shared/core/deps.ts';
import { TransientError } from '../../../shared/http/errors.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';
import {
  cloudEventRequest,
  fixture,
  type Json,
  stepOutcome,
  testApp,
} from '../../support/unit/functions-fixtures.ts';

type Emitted = { type: string; data: Record<string, unknown> };

function recordingSink(emitted: Emitted[], fail = false) {
  const emitRaw = async (type: string, data: Record<string, unknown>) => {
    if (fail) throw new Error('connect ECONNREFUSED 10.0.0.9:80');
    emitted.push({ type, data });
  };
  return { emitRaw, emit: emitRaw };
}

/** A runtime whose own step must never run in delegate mode (it fails the test if it does). */
function runtime(mode: 'local' | 'delegate', { brokerDown = false } = {}) {
  const emitted: Emitted[] = [];
  let steps = 0;
  const { app } = testApp({ name: 'hand-off' });
  const step = async () => {
    steps++;
    return stepOutcome({ kind: 'migrate' }, false);
  };
  const rt = {
    config: loadConfig({
      REKEY_PROVIDER: 'aws-kms',
      REKEY_STEP_MODE: mode,
      K_SINK: 'http://broker-ingress.knative-eventing.svc/rekey-system/rekey',
    }),
    deps: {} as ReconcileDeps,
    reconcile: {} as ReconcileConfig,
    logger: createLogger({ name: 'hand-off', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    sink: recordingSink(emitted, brokerDown),
    app,
    step,
    kmsEventDeps: {
      provider: 'aws-kms',
      note: async () => ({ recorded: false as const, reason: 'no revision to record it on yet' }),
      danger: async () => ({}),
      step,
    },
    close() {},
  } satisfies Runtime;
  return { rt, emitted, steps: () => steps };
}

const REPORT_CHANGE = (): Json => {
  const ev = fixture('apiserversource-ref-update-revision.json');
  ev.data = { ...(ev.data as Json), kind: 'ConfigMap', name: 'key-id-report-node-a' };
  ev.subject = '/api/v1/namespaces/rekey-system/configmaps/key-id-report-node-a';
  return ev;
};

describe('delegated steps (REKEY_STEP_MODE=delegate)', () => {
  it('handOff emits one step request naming the provider and the asking function', async () => {
    const emitted: Emitted[] = [];
    const handed = await handOff(recordingSink(emitted), 'aws-kms', 'kms-event')();
    assert.deepEqual(handed, { kind: 'handed-off', provider: 'aws-kms', to: 'reconcile' });
    assert.deepEqual(emitted, [
      { type: STEP_REQUESTED, data: { provider: 'aws-kms', requestedBy: 'kms-event' } },
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
    assert.equal(STEP_REQUEST_TYPE, `dev.rekey.${STEP_REQUESTED}`);
    assert.ok(accepts(STEP_REQUEST_TYPE));
  });

  it('cluster-event hands its step off: 200 handed-off, one request emitted, no step run here', async () => {
    const { rt, emitted, steps } = runtime('delegate');
    mountFunction(rt, 'cluster-event');
    const res = await rt.app.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outcome: string; step: { kind: string } };
    assert.deepEqual([body.outcome, body.step.kind], ['stepped', 'handed-off']);
    assert.deepEqual(
      emitted.map((e) => [e.type, e.data.requestedBy]),
      [[STEP_REQUESTED, 'cluster-event']],
    );
    assert.equal(steps(), 0, 'the trigger function ran no step itself');
  });

  it('kms-event notes the rotation, then hands the step off', async () => {
    const { rt, emitted, steps } = runtime('delegate');
    mountFunction(rt, 'kms-event');
    const res = await rt.app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outcome: string; step: { kind: string } };
    assert.deepEqual([body.outcome, body.step.kind], ['rotation', 'handed-off']);
    assert.deepEqual(
      emitted.map((e) => e.data.requestedBy),
      ['kms-event'],
    );
    assert.equal(steps(), 0);
  });

  it('with the Broker down, the trigger event answers 503 so Knative redelivers it', async () => {
    const { rt, steps } = runtime('delegate', { brokerDown: true });
    mountFunction(rt, 'cluster-event');
    const res = await rt.app.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'), 'Retry-After tells the sender when to retry');
    assert.equal(steps(), 0);
  });

  it('local mode runs the step in the trigger request and emits no step request', async () => {
    const { rt, emitted, steps } = runtime('local');
    mountFunction(rt, 'cluster-event');
    const res = await rt.app.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { step: { kind: string } };
    assert.equal(body.step.kind, 'step');
    assert.equal(steps(), 1);
    assert.deepEqual(
      emitted.map((e) => e.type),
      [],
    );
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
