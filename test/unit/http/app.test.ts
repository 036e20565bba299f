// The app factory through app.request(): probes, /metrics, error answers with Knative-correct
// statuses, the request log and the start-up warning when sender authentication is off.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CreateAppOptions, createApp } from '../../../shared/http/app.ts';
import { PermanentError, TransientError, UnauthorizedError } from '../../../shared/http/errors.ts';
import type { Authenticator } from '../../../shared/http/sender-auth.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

function setup(overrides: Partial<CreateAppOptions> = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    name: 'test',
    level: 'debug',
    destination: { write: (s: string) => void lines.push(s) },
  });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({
    name: 'reconcile',
    logger,
    metrics,
    readiness: async () => ({ ready: true, details: { kube: 'ok' } }),
    ...overrides,
  });
  app.post('/permanent', () => {
    throw new PermanentError('unknown provider aws-x');
  });
  app.post('/unprocessable', () => {
    throw new PermanentError('event type not handled', { status: 422 });
  });
  app.post('/transient', () => {
    throw new TransientError('apiserver throttled us', { retryAfterSeconds: 7 });
  });
  app.post('/throttled', () => {
    throw new TransientError('too busy', { status: 429, retryAfterSeconds: 1 });
  });
  app.post('/bug', () => {
    throw new Error('connect ECONNREFUSED 10.1.2.3:2379 with token abc123');
  });
  app.post('/ok', (c) => c.body(null, 202));
  app.post('/outcome', (c) => c.json({ outcome: 'rotation' }, 200));
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { app, records, metrics, lines };
}

describe('createApp', () => {
  it('answers /healthz with 200', async () => {
    const { app } = setup({ readiness: async () => ({ ready: false, details: {} }) });
    const res = await app.request('/healthz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
  });

  it('answers /readyz 200 with details, saying sender authentication is off', async () => {
    const { app } = setup();
    const res = await app.request('/readyz');
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), {
      ready: true,
      details: { kube: 'ok', senderAuthentication: 'off' },
    });
  });

  it('answers /readyz 503 when not ready, and when the check throws or hangs', async () => {
    const notReady = setup({
      readiness: async () => ({ ready: false, details: { kube: 'unreachable' } }),
    });
    const r1 = await notReady.app.request('/readyz');
    assert.equal(r1.status, 503);
    assert.deepEqual(((await r1.json()) as { details: unknown }).details, {
      kube: 'unreachable',
      senderAuthentication: 'off',
    });

    const throwing = setup({
      readiness: async () => {
        throw new Error('internal detail: etcd at 10.0.0.1');
      },
    });
    const r2 = await throwing.app.request('/readyz');
    assert.equal(r2.status, 503);
    assert.doesNotMatch(await r2.text(), /10\.0\.0\.1/);

    const hanging = setup({ readiness: () => new Promise(() => {}), readinessTimeoutMs: 20 });
    const r3 = await hanging.app.request('/readyz');
    assert.equal(r3.status, 503);
  });

  it('says in /readyz that sender authentication is on, with its non-secret settings', async () => {
    const auth: Authenticator = {
      authenticate: async () => ({ username: 'system:serviceaccount:knative-eventing:broker' }),
      describe: () => ({
        audience: 'rekey',
        allowedSenders: ['system:serviceaccount:knative-eventing:broker'],
      }),
    };
    const { app, records } = setup({ auth });
    const body = (await (await app.request('/readyz')).json()) as {
      details: Record<string, unknown>;
    };
    assert.equal(body.details.senderAuthentication, 'on');
    assert.deepEqual(body.details.sender, {
      audience: 'rekey',
      allowedSenders: ['system:serviceaccount:knative-eventing:broker'],
    });
    assert.equal(records().filter((r) => r.senderAuthentication === 'off').length, 0);
  });

  it('without probe details, /readyz answers { ready } alone, ready or not', async () => {
    const auth: Authenticator = {
      authenticate: async () => ({ username: 'x' }),
      describe: () => ({ audience: 'rekey', allowedSenders: ['broker'] }),
    };
    const ready = setup({ auth, probeDetails: false });
    const r1 = await ready.app.request('/readyz');
    assert.equal(r1.status, 200);
    assert.deepEqual(await r1.json(), { ready: true });
    const unready = setup({
      probeDetails: false,
      readiness: async () => ({ ready: false, details: { apiserver: 'down' } }),
    });
    const r2 = await unready.app.request('/readyz');
    assert.equal(r2.status, 503);
    assert.deepEqual(await r2.json(), { ready: false });
  });

  it('warns once at start when sender authentication is off', async () => {
    const { app, records } = setup();
    await app.request('/healthz');
    await app.request('/readyz');
    const warnings = records().filter(
      (r) => r.level === 'warn' && r.senderAuthentication === 'off',
    );
    assert.equal(warnings.length, 1);
  });

  it('serves Prometheus text on /metrics with the rekey series', async () => {
    const { app, metrics } = setup();
    metrics.stepDone({ provider: 'aws', step: 'migrate' });
    metrics.objectsRewritten({ provider: 'aws', outcome: 'rewritten' }, 5);
    metrics.revisionPhase({
      provider: 'aws',
      revision: 'encryption-key-aws-3',
      phase: 'Migrating',
    });
    await app.request('/ok', { method: 'POST' });
    const res = await app.request('/metrics');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
    const text = await res.text();
    assert.match(text, /rekey_reconcile_steps_total\{provider="aws",step="migrate"\} 1/);
    assert.match(text, /rekey_objects_rewritten_total\{provider="aws",outcome="rewritten"\} 5/);
    assert.match(
      text,
      /rekey_revision_phase\{provider="aws",revision="encryption-key-aws-3",phase="Migrating"\} 1/,
    );
    assert.match(
      text,
      /rekey_revision_phase\{provider="aws",revision="encryption-key-aws-3",phase="Completed"\} 0/,
    );
    assert.match(
      text,
      /rekey_http_request_duration_seconds_count\{function="reconcile",method="POST",route="\/ok",status="202"\} 1/,
    );
    assert.match(text, /# TYPE rekey_events_received_total counter/);
  });

  it('answers a permanent error 400 and a 422 with a JSON body', async () => {
    const { app } = setup();
    const r1 = await app.request('/permanent', { method: 'POST' });
    assert.equal(r1.status, 400);
    assert.deepEqual(await r1.json(), { error: 'bad_request', message: 'unknown provider aws-x' });
    const r2 = await app.request('/unprocessable', { method: 'POST' });
    assert.equal(r2.status, 422);
    assert.deepEqual(await r2.json(), {
      error: 'unprocessable',
      message: 'event type not handled',
    });
  });

  it('answers a transient error 503 or 429 with Retry-After', async () => {
    const { app } = setup();
    const r1 = await app.request('/transient', { method: 'POST' });
    assert.equal(r1.status, 503);
    assert.equal(r1.headers.get('retry-after'), '7');
    assert.deepEqual(await r1.json(), { error: 'unavailable', message: 'apiserver throttled us' });
    const r2 = await app.request('/throttled', { method: 'POST' });
    assert.equal(r2.status, 429);
    assert.equal(r2.headers.get('retry-after'), '1');
  });

  it('answers an unexpected error 500 without internals, and logs it in full', async () => {
    const { app, records } = setup();
    const res = await app.request('/bug', { method: 'POST' });
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: 'internal', message: 'internal error' });
    assert.doesNotMatch(text, /ECONNREFUSED|10\.1\.2\.3|abc123|at /);
    const logged = records().find((r) => r.msg === 'request failed');
    assert.match(JSON.stringify(logged), /ECONNREFUSED/);
  });

  it('answers an unknown route with a JSON 404', async () => {
    const { app } = setup();
    const res = await app.request('/nope', { method: 'POST' });
    assert.equal(res.status, 404);
    assert.equal(((await res.json()) as { error: string }).error, 'not_found');
  });

  it('logs one JSON line per request with method, path, status and duration, never the body', async () => {
    const { app, records, lines } = setup();
    await app.request('/permanent', {
      method: 'POST',
      headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
      body: 'BODY-MARKER',
    });
    const line = records().find((r) => r.msg === 'request' && r.path === '/permanent');
    assert.ok(line);
    assert.equal(line.method, 'POST');
    assert.equal(line.status, 400);
    assert.equal(line.level, 'warn');
    assert.equal(line.reason, 'unknown provider aws-x');
    assert.equal(line.traceparent, '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01');
    assert.equal(typeof line.durationMs, 'number');
    assert.ok(!lines.join('').includes('BODY-MARKER'));
  });

  it('keeps the probes at debug level', async () => {
    const { app, records } = setup();
    await app.request('/healthz');
    const line = records().find((r) => r.msg === 'request' && r.path === '/healthz');
    assert.equal(line?.level, 'debug');
  });

  it('refuses a body over maxBodyBytes with 413 on every route', async () => {
    const { app } = setup({ maxBodyBytes: 8 });
    const res = await app.request('/ok', { method: 'POST', body: '0123456789' });
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { error: string }).error, 'payload_too_large');
  });
});

describe('createApp with sender authentication', () => {
  const calls: (string | undefined)[] = [];
  const auth: Authenticator = {
    async authenticate(authorization) {
      calls.push(authorization);
      if (authorization !== 'Bearer good') {
        throw new UnauthorizedError('a bearer token is required', { challenge: 'Bearer' });
      }
      return { username: 'system:serviceaccount:knative-eventing:broker' };
    },
    describe: () => ({}),
  };

  it('guards event routes, leaves probes, OPTIONS and /webhook open, and logs the sender', async () => {
    calls.length = 0;
    const { app, records } = setup({ auth });
    app.post('/webhook', (c) => c.body(null, 204));
    app.options('/ok', (c) => c.body(null, 200));

    const denied = await app.request('/ok', { method: 'POST' });
    assert.equal(denied.status, 401);
    assert.equal(denied.headers.get('www-authenticate'), 'Bearer');

    const allowed = await app.request('/ok', {
      method: 'POST',
      headers: { authorization: 'Bearer good' },
    });
    assert.equal(allowed.status, 202);
    const line = records().find((r) => r.msg === 'request' && r.status === 202);
    assert.equal(line?.sender, 'system:serviceaccount:knative-eventing:broker');
    assert.ok(!JSON.stringify(records()).includes('Bearer good'));

    assert.equal((await app.request('/healthz')).status, 200);
    assert.equal((await app.request('/readyz')).status, 200);
    assert.equal((await app.request('/metrics')).status, 200);
    assert.equal((await app.request('/webhook', { method: 'POST' })).status, 204);
    assert.equal((await app.request('/ok', { method: 'OPTIONS' })).status, 200);
    assert.equal(calls.length, 2, 'only the two /ok POSTs were authenticated');
  });

  it('answers a Knative delivery with the status alone: Knative refuses any other 2xx body', async () => {
    const { app } = setup();
    const direct = await app.request('/outcome', { method: 'POST' });
    assert.equal(direct.status, 200);
    assert.deepEqual(await direct.json(), { outcome: 'rotation' });
    const viaKnative = await app.request('/outcome', {
      method: 'POST',
      headers: { 'Kn-Namespace': 'rekey-system' },
    });
    assert.equal(viaKnative.status, 200);
    assert.equal(await viaKnative.text(), '');
    assert.equal(viaKnative.headers.get('content-type'), null);
    const failed = await app.request('/transient', {
      method: 'POST',
      headers: { 'Kn-Namespace': 'rekey-system' },
    });
    assert.equal(failed.status, 503, 'a failure keeps its status and body (Knative records it)');
    assert.match(await failed.text(), /.+/);
  });
});
