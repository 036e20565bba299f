// Contract tests of the reconcile function through app.request(): PingSource ticks and rekey's
// own continuation events each run one step; while a migration (or its verification) has work
// right now the function asks for a continuation, but a wait for adoption is left to the next tick
// (no spin). Other types and batch mode are refused (422).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONTINUATION_TYPE } from '../../../../functions/reconcile/handler.ts';
import { mountReconcile } from '../../../../functions/reconcile/route.ts';
import type { DriveSwitchResult } from '../../../../shared/core/drive-encryption-switch.ts';
import type { StepOutcome } from '../../../../shared/core/reconcile-step.ts';
import { TransientError } from '../../../../shared/http/errors.ts';
import {
  type Call,
  cloudEvent,
  cloudEventRequest,
  fakeStep,
  fns,
  type Json,
  MODES,
  stepOutcome,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';

const PING_TYPE = 'dev.knative.sources.ping';

function ping(data: unknown = { tick: true }): Json {
  return cloudEvent(PING_TYPE, data, {
    source: '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick',
  });
}

function continuation(outcome: Extract<StepOutcome, { kind: 'step' }>): Json {
  return cloudEvent(
    CONTINUATION_TYPE,
    {
      provider: outcome.provider,
      revision: outcome.revision,
      keyIdHash: outcome.keyIdHash,
      counts: outcome.counts,
    },
    { source: 'rekey/reconcile' },
  );
}

function setup(step: () => StepOutcome, continueFails?: Error) {
  const calls: Call[] = [];
  const { app } = testApp({ name: 'reconcile' });
  mountReconcile(app, {
    provider: 'aws-kms',
    step: fakeStep(calls, step),
    continueLater: async (data) => {
      calls.push({ fn: 'continueLater', arg: data });
      if (continueFails) throw continueFails;
    },
  });
  return { app, calls };
}

const MIGRATING = stepOutcome({ kind: 'migrate' }, true, {
  counts: {
    listed: 1200,
    reencrypted: 400,
    unchanged: 17,
    conflicts: 2,
    gone: 1,
    failed: 0,
    retried: 3,
    alreadyCurrent: 0,
  },
}) as Extract<StepOutcome, { kind: 'step' }>;

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

describe('reconcile: one step per trigger', () => {
  for (const mode of MODES) {
    for (const [what, ev] of [
      ['a PingSource tick', ping()],
      ['a PingSource tick without data', { ...ping(), data: undefined }],
      ['a continuation event', continuation(MIGRATING)],
    ] as const) {
      it(`${what} (${mode}) with a migration under way => step, then a continuation`, async () => {
        const { app, calls } = setup(() => MIGRATING);
        const res = await app.request('/reconcile', cloudEventRequest(ev, mode));
        assert.equal(res.status, 200);
        assert.deepEqual(await body(res), { outcome: MIGRATING, continued: true });
        assert.deepEqual(calls, [
          { fn: 'step' },
          {
            fn: 'continueLater',
            arg: {
              provider: 'aws-kms',
              revision: 'encryption-key-aws-kms-3',
              keyIdHash: 'sha256:0f1e2d3c4b5a6978',
              counts: MIGRATING.counts,
            },
          },
        ]);
      });
    }
  }

  it('a PingSource tick posted in binary mode with no body at all => step', async () => {
    const { app, calls } = setup(() =>
      stepOutcome({ kind: 'nothing-to-do', reason: 'done' }, false),
    );
    const res = await app.request('/reconcile', {
      method: 'POST',
      headers: {
        'ce-specversion': '1.0',
        'ce-id': 'tick-1',
        'ce-type': PING_TYPE,
        'ce-source': '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick',
      },
    });
    assert.equal(res.status, 200);
    assert.equal((await body(res)).continued, false);
    assert.deepEqual(fns(calls), ['step']);
  });

  it('verification with more to do is continued too', async () => {
    const verifying = stepOutcome({ kind: 'verify' }, true, { phase: 'Verifying' });
    const { app, calls } = setup(() => verifying);
    const res = await app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.equal(res.status, 200);
    assert.equal((await body(res)).continued, true);
    assert.deepEqual(fns(calls), ['step', 'continueLater']);
  });

  const notContinued: [string, StepOutcome][] = [
    [
      'waiting for convergence (more: true)',
      stepOutcome(
        { kind: 'wait-convergence', reason: 'not adopted', pending: ['apiserver-2'] },
        true,
        {
          phase: 'Converging',
        },
      ),
    ],
    [
      'a recoverable degradation (more: true)',
      stepOutcome({ kind: 'degraded', reason: 'plugin unhealthy', recoverable: true }, true, {
        phase: 'Degraded',
      }),
    ],
    [
      'a migration slice that finished everything (more: false)',
      stepOutcome({ kind: 'migrate' }, false),
    ],
    [
      'completion',
      stepOutcome({ kind: 'complete', verified: true }, false, { phase: 'Completed' }),
    ],
    [
      'nothing to do',
      stepOutcome({ kind: 'nothing-to-do', reason: 'Completed' }, false, { phase: 'Completed' }),
    ],
    ['a busy lock', { kind: 'busy', provider: 'aws-kms', heldBy: 'rekey-reconcile-7' }],
    ['no key_id yet', { kind: 'no-key-id', provider: 'aws-kms', reason: 'no key_id observed yet' }],
  ];
  for (const [what, outcome] of notContinued) {
    for (const type of [PING_TYPE, CONTINUATION_TYPE]) {
      it(`${what} after ${type} => 200, step only, NOT continued (no spin)`, async () => {
        const { app, calls } = setup(() => outcome);
        const res = await app.request(
          '/reconcile',
          cloudEventRequest(cloudEvent(type, {}), 'structured'),
        );
        assert.equal(res.status, 200);
        assert.deepEqual(await body(res), { outcome, continued: false });
        assert.deepEqual(fns(calls), ['step']);
      });
    }
  }

  it('a chain of continuations stops as soon as the step has no more slice work', async () => {
    const outcomes: StepOutcome[] = [
      MIGRATING,
      MIGRATING,
      stepOutcome({ kind: 'wait-convergence', reason: 'x', pending: [] }, true),
    ];
    let i = 0;
    const { app, calls } = setup(() => outcomes[Math.min(i++, outcomes.length - 1)] as StepOutcome);
    let ev = ping();
    for (let n = 0; n < 10; n++) {
      const res = await app.request('/reconcile', cloudEventRequest(ev, 'binary'));
      assert.equal(res.status, 200);
      const b = await body(res);
      if (!b.continued) break;
      ev = continuation(MIGRATING);
    }
    assert.deepEqual(fns(calls), ['step', 'continueLater', 'step', 'continueLater', 'step']);
  });
});

describe('reconcile: what it refuses', () => {
  const otherTypes = [
    'com.amazon.events.event',
    'dev.knative.apiserver.ref.update',
    'dev.rekey.revision.created',
    'dev.rekey.migration.completed',
    'dev.knative.sources.ping.extra',
    'Dev.Rekey.Migration.Slice',
  ];
  for (const type of otherTypes) {
    it(`type ${JSON.stringify(type)} => 422, no step`, async () => {
      for (const mode of MODES) {
        const { app, calls } = setup(() => MIGRATING);
        const res = await app.request('/reconcile', cloudEventRequest(cloudEvent(type, {}), mode));
        assert.equal(res.status, 422, mode);
        const b = await body(res);
        assert.equal(b.error, 'unprocessable');
        assert.match(
          String(b.message),
          /dev\.knative\.sources\.ping or dev\.rekey\.migration\.slice/,
        );
        assert.deepEqual(calls, []);
      }
    });
  }

  it('batch mode => 422, no step', async () => {
    const { app, calls } = setup(() => MIGRATING);
    const res = await app.request('/reconcile', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json' },
      body: JSON.stringify([ping(), ping()]),
    });
    assert.equal(res.status, 422);
    assert.match(String((await body(res)).message), /batch mode/);
    assert.deepEqual(calls, []);
  });

  for (const [what, init] of [
    [
      'a plain JSON body',
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' },
    ],
    ['an empty POST', { method: 'POST' }],
    [
      'a structured event without type',
      {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents+json' },
        body: '{"id":"1","source":"/s","specversion":"1.0"}',
      },
    ],
  ] as const) {
    it(`${what} => 400, no step`, async () => {
      const { app, calls } = setup(() => MIGRATING);
      const res = await app.request('/reconcile', init as RequestInit);
      assert.equal(res.status, 400);
      assert.deepEqual(calls, []);
    });
  }
});

describe('reconcile: failures map to Knative retry semantics', () => {
  it('a step that throws a TransientError => 503 with Retry-After, no continuation', async () => {
    const { app, calls } = setup(() => {
      throw new TransientError('reconcile step failed; it will be retried', {
        retryAfterSeconds: 10,
      });
    });
    const res = await app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('Retry-After'), '10');
    assert.deepEqual(fns(calls), ['step']);
  });

  it('a continuation that cannot be sent => 503 (the tick is redelivered), step ran once', async () => {
    const { app, calls } = setup(
      () => MIGRATING,
      new TransientError('K_SINK unreachable', { retryAfterSeconds: 2 }),
    );
    const res = await app.request('/reconcile', cloudEventRequest(ping(), 'structured'));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('Retry-After'), '2');
    assert.deepEqual(fns(calls), ['step', 'continueLater']);
  });

  it('a step that throws a plain Error => 500 without internals', async () => {
    const { app } = setup(() => {
      throw new Error('TypeError at /work/main/shared/core/reconcile-step.ts:42');
    });
    const res = await app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: 'internal', message: 'internal error' });
    assert.ok(!text.includes('reconcile-step'));
  });
});

describe('reconcile: the declared EncryptionSwitch on PingSource ticks', () => {
  function withSwitch(step: () => StepOutcome, tick: () => Promise<DriveSwitchResult>) {
    const calls: Call[] = [];
    const { app } = testApp({ name: 'reconcile' });
    mountReconcile(app, {
      provider: 'aws-kms',
      step: fakeStep(calls, step),
      continueLater: async (data) => {
        calls.push({ fn: 'continueLater', arg: data });
      },
      encryptionSwitch: async () => {
        calls.push({ fn: 'encryptionSwitch' });
        return tick();
      },
    });
    return { app, calls };
  }
  const idle = () => stepOutcome({ kind: 'nothing-to-do', reason: 'done' }, false);

  it('a tick drives it one tick after the step, and says where it is', async () => {
    const { app, calls } = withSwitch(idle, async () => ({
      kind: 'ticked',
      written: true,
      status: { stage: 'AddRead' } as never,
    }));
    const res = await app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.equal(res.status, 200);
    assert.equal((await body(res)).encryptionSwitch, 'AddRead');
    assert.deepEqual(fns(calls), ['step', 'encryptionSwitch']);
  });

  it('a continuation does not tick it', async () => {
    const { app, calls } = withSwitch(
      () => MIGRATING,
      async () => ({ kind: 'none' }),
    );
    const res = await app.request(
      '/reconcile',
      cloudEventRequest(continuation(MIGRATING), 'binary'),
    );
    assert.equal(res.status, 200);
    assert.equal((await body(res)).encryptionSwitch, undefined);
    assert.deepEqual(fns(calls), ['step', 'continueLater']);
  });

  it('a failed switch tick does not fail the step; a failed step still ticks it', async () => {
    const failing = withSwitch(idle, async () => {
      throw new Error('GET encryptionswitches: HTTP 503');
    });
    const res = await failing.app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.equal(res.status, 200);
    assert.match(String((await body(res)).encryptionSwitch), /tick failed: .*503/);

    const stepFails = withSwitch(
      () => {
        throw new TransientError('reconcile step failed; it will be retried');
      },
      async () => ({ kind: 'none' }),
    );
    const r2 = await stepFails.app.request('/reconcile', cloudEventRequest(ping(), 'binary'));
    assert.notEqual(r2.status, 200);
    assert.deepEqual(fns(stepFails.calls), ['step', 'encryptionSwitch']);
  });
});
