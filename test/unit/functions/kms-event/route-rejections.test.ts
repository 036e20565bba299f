// Contract tests of kms-event through app.request(): what it refuses and how: non-CloudEvents
// (415), the shared secret (401), the Azure Event Grid handshake, step() failures (503/500),
// media types and optional attributes.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountKmsEvent } from '../../../../functions/kms-event/route.ts';
import { TransientError } from '../../../../shared/http/errors.ts';
import {
  type Call,
  cloudEventRequest,
  fakeStep,
  fixture,
  fns,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';
import { json, raw, setup, TOKEN } from '../../../support/unit/kms-event-harness.ts';

describe('kms-event: what is not a CloudEvent', () => {
  it('a raw EventBridge JSON on /kms-event (no ce-type, plain JSON) => 415 naming the raw path', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixture('aws-cmk-rotation-automatic.json')),
    });
    assert.equal(res.status, 415);
    const body = await json(res);
    assert.equal(body.error, 'unsupported_media_type');
    assert.match(String(body.message), /\/kms-event\/eventbridge/);
    assert.deepEqual(calls, []);
  });

  it('no content type and no ce-* headers => 415', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', { method: 'POST', body: 'hello' });
    assert.equal(res.status, 415);
    assert.deepEqual(calls, []);
  });

  it('GET /kms-event is not a route => 404 from the router, not a handler outcome', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event');
    assert.equal(res.status, 404);
    assert.deepEqual(calls, []);
  });
});

describe('kms-event: the shared secret of /kms-event/eventbridge', () => {
  const ev = () => fixture('aws-cmk-rotation-automatic.json');

  it('without the token header => 401, nothing runs', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev(), null));
    assert.equal(res.status, 401);
    assert.equal((await json(res)).error, 'unauthorized');
    assert.deepEqual(calls, []);
  });

  for (const [what, token] of [
    ['a wrong token', 'eb-shared-secret-0123456789abcdeX'],
    ['a prefix of the token', TOKEN.slice(0, 10)],
    ['the token with a suffix', `${TOKEN}0`],
    ['an empty token', ''],
  ] as const) {
    it(`with ${what} => 401, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event/eventbridge', raw(ev(), token));
      assert.equal(res.status, 401);
      assert.deepEqual(calls, []);
    });
  }

  it('with eventBridgeToken not configured => 401 whatever is sent, saying why', async () => {
    const { app, calls } = setup({ eventBridgeToken: null });
    for (const token of [null, TOKEN, '']) {
      const res = await app.request('/kms-event/eventbridge', raw(ev(), token));
      assert.equal(res.status, 401);
      assert.match(String((await json(res)).message), /REKEY_EVENTBRIDGE_TOKEN is not set/);
    }
    assert.deepEqual(calls, []);
  });

  it('the token is checked before the body is parsed (a bad body without a token => 401)', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw('{not json', 'wrong'));
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('the error answer never contains the configured token', async () => {
    const { app } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev(), 'wrong'));
    assert.ok(!(await res.text()).includes(TOKEN));
  });
});

describe('kms-event: the Azure Event Grid abuse-protection handshake', () => {
  it('OPTIONS with WebHook-Request-Origin => 200 allowing that origin', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), 'eventgrid.azure.net');
    assert.equal(res.headers.get('WebHook-Allowed-Rate'), '*');
    assert.deepEqual(calls, []);
  });

  it('OPTIONS without the origin header => 400', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', { method: 'OPTIONS' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), null);
    assert.match(String((await json(res)).message), /WebHook-Request-Origin/);
    assert.deepEqual(calls, []);
  });

  for (const origin of ['a b', 'evil.example, other.example', 'x/y', '   ']) {
    it(`OPTIONS with origin ${JSON.stringify(origin)} => 400, not echoed into a header`, async () => {
      const { app } = setup();
      const res = await app.request('/kms-event', {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': origin },
      });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('WebHook-Allowed-Origin'), null);
    });
  }
});

describe('kms-event: failures of the step map to Knative retry semantics', () => {
  it('a step that throws a TransientError => 503 with Retry-After (Knative retries)', async () => {
    const { app, calls } = setup({
      step: () => {
        throw new TransientError('reconcile step failed; it will be retried', {
          retryAfterSeconds: 10,
        });
      },
    });
    for (const [path, init] of [
      ['/kms-event', cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary')],
      ['/kms-event', cloudEventRequest(fixture('gcp-destroy-version.json'), 'structured')],
      ['/kms-event/eventbridge', raw(fixture('aws-cloudtrail-enable-key-rotation.json'))],
    ] as const) {
      const res = await app.request(path, init);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('Retry-After'), '10');
      assert.equal((await json(res)).error, 'unavailable');
    }
    assert.deepEqual(fns(calls), ['note', 'step', 'danger', 'step', 'step']);
  });

  it('a step that throws a plain Error => 503 with Retry-After whose body says nothing internal', async () => {
    const secretDetail = 'connect ECONNREFUSED 10.0.0.7:2379 token=abc123';
    const { app, calls, lines } = setup({
      step: () => {
        throw new Error(secretDetail);
      },
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'structured'),
    );
    assert.equal(res.status, 503);
    const text = await res.text();
    assert.equal(JSON.parse(text).error, 'unavailable');
    assert.ok(!text.includes('ECONNREFUSED'));
    assert.ok(!text.includes('abc123'));
    assert.ok(Number(res.headers.get('Retry-After')) > 0);
    assert.deepEqual(fns(calls), ['note', 'step']);
    assert.ok(
      lines.some((l) => l.includes('transient failure')),
      'the failure is logged for operators',
    );
  });

  it('a note() that throws a TransientError => 503 and no step runs', async () => {
    const calls: Call[] = [];
    const { app } = testApp({ name: 'kms-event' });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'private',
      clear: async () => ({ cleared: [], stillActive: 0 }),
      note: async (r) => {
        calls.push({ fn: 'note', arg: r });
        throw new TransientError('apiserver throttled', { status: 429, retryAfterSeconds: 3 });
      },
      danger: async () => ({}),
      step: fakeStep(calls),
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-knative-aws-sqs.json'), 'binary'),
    );
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('Retry-After'), '3');
    assert.deepEqual(fns(calls), ['note']);
  });
});

describe('kms-event: media types and optional attributes', () => {
  it('a structured CloudEvent with an upper-case media type is accepted (media types are case-insensitive)', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'Application/CloudEvents+JSON' },
      body: JSON.stringify(fixture('ce-triggermesh-eventbridge.json')),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['note', 'step']);
  });

  for (const mode of ['structured', 'binary'] as const) {
    it(`an Azure key event without a time attribute is refused (422), not dated "now" (${mode})`, async () => {
      const ev = fixture('azure-key-new-version.json');
      delete ev.time;
      const { app, calls } = setup();
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      assert.equal(res.status, 422);
      assert.deepEqual(calls, []);
    });
  }
});
