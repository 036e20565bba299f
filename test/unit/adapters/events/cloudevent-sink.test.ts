// The CloudEvent sink against a real local HTTP server: binary-mode headers and JSON body,
// failures of K_SINK as TransientError, and signed outgoing webhooks verifiable with
// standardwebhooks, for the public types only and best effort (a failure is reported, not thrown).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import {
  CloudEventSink,
  InvalidEventTypeError,
} from '../../../../shared/adapters/events/cloudevent-sink.ts';
import { TransientError } from '../../../../shared/http/errors.ts';
import type {
  EventSink,
  MigrationSliceData,
  RekeyEventType,
} from '../../../../shared/ports/event-sink.ts';

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base = '';
const received: Received[] = [];
/** The status each path answers with (default 202). */
const statusFor: Record<string, number> = {};

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      const status = statusFor[new URL(req.url ?? '/', 'http://x').pathname] ?? 202;
      res.writeHead(status, status === 503 ? { 'retry-after': '9' } : {});
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

const data: MigrationSliceData = {
  provider: 'aws-kms',
  revision: 'encryption-key-aws-kms-3',
  keyIdHash: 'sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae',
  counts: {
    listed: 10,
    reencrypted: 9,
    unchanged: 1,
    conflicts: 0,
    gone: 0,
    failed: 0,
    retried: 0,
    alreadyCurrent: 0,
  },
};

describe('CloudEventSink', () => {
  it('posts a binary-mode CloudEvent with the dev.rekey. type, rekey/<function> source and JSON data', async () => {
    received.length = 0;
    const sink: EventSink = new CloudEventSink({
      functionName: 'reconcile',
      sink: `${base}/broker`,
      newId: () => 'id-1',
      now: () => new Date('2026-03-01T12:00:00Z'),
    });
    await sink.emit('migration.completed', data);
    assert.equal(received.length, 1);
    const r = received[0];
    assert.ok(r);
    assert.equal(r.path, '/broker');
    assert.equal(r.headers['ce-specversion'], '1.0');
    assert.equal(r.headers['ce-type'], 'dev.rekey.migration.completed');
    assert.equal(r.headers['ce-source'], 'rekey/reconcile');
    assert.equal(r.headers['ce-id'], 'id-1');
    assert.equal(r.headers['ce-time'], '2026-03-01T12:00:00.000Z');
    assert.equal(r.headers['ce-subject'], 'encryption-key-aws-kms-3');
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(JSON.parse(r.body), data);
  });

  it('uses a fresh uuid per event by default', async () => {
    received.length = 0;
    const sink = new CloudEventSink({ functionName: 'reconcile', sink: `${base}/broker` });
    await sink.emit('migration.slice', data);
    await sink.emit('migration.slice', data);
    const [a, b] = received.map((r) => String(r.headers['ce-id']));
    assert.match(a ?? '', /^[0-9a-f-]{36}$/);
    assert.notEqual(a, b);
  });

  it('emits dev.rekey.key.danger with its own data, and refuses a type outside the vocabulary', async () => {
    received.length = 0;
    const sink = new CloudEventSink({ functionName: 'kms-event', sink: `${base}/broker` });
    const danger = {
      provider: 'aws-kms',
      what: 'deletion scheduled',
      key: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd',
      at: '2026-01-02T03:04:05Z',
    };
    await sink.emit('key.danger', danger);
    assert.equal(received[0]?.headers['ce-type'], 'dev.rekey.key.danger');
    assert.deepEqual(JSON.parse(received[0]?.body ?? ''), danger);
    // the compiler refuses these; a cast or a JavaScript caller must not get them on the wire
    for (const bad of ['dev.rekey.key.danger', 'Key.Danger', '', 'key.dangers', 'migration']) {
      await assert.rejects(
        sink.emit(bad as RekeyEventType, { provider: 'p', requestedBy: 'x' }),
        InvalidEventTypeError,
      );
    }
    assert.equal(received.length, 1, 'nothing sent for a refused type');
  });

  it('rejects with a TransientError carrying Retry-After when the sink answers 503', async () => {
    statusFor['/down'] = 503;
    const sink = new CloudEventSink({ functionName: 'reconcile', sink: `${base}/down?token=abc` });
    await assert.rejects(sink.emit('migration.slice', data), (err: Error) => {
      assert.ok(err instanceof TransientError);
      assert.equal(err.retryAfterSeconds, 9);
      assert.match(err.message, /answered 503/);
      assert.doesNotMatch(err.message, /token=abc/, 'query strings may hold credentials');
      return true;
    });
  });

  it('rejects with a TransientError when the sink is unreachable or slow', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = new CloudEventSink({
      functionName: 'r',
      sink: `http://127.0.0.1:${port}/`,
    });
    await assert.rejects(unreachable.emit('migration.slice', data), TransientError);

    const hang = createServer(() => {});
    await new Promise<void>((resolve) => hang.listen(0, '127.0.0.1', resolve));
    const slow = new CloudEventSink({
      functionName: 'r',
      sink: `http://127.0.0.1:${(hang.address() as AddressInfo).port}/`,
      timeoutMs: 50,
    });
    await assert.rejects(slow.emit('migration.slice', data), /timed out/);
    hang.closeAllConnections();
    await new Promise<void>((resolve) => hang.close(() => resolve()));
  });

  it('also sends a signed Standard Webhook that the same library verifies', async () => {
    received.length = 0;
    const secret = `whsec_${randomBytes(32).toString('base64')}`;
    const sink = new CloudEventSink({
      functionName: 'reconcile',
      sink: `${base}/broker`,
      webhooks: { urls: [`${base}/hook`], secrets: [secret] },
      newId: () => 'id-42',
    });
    await sink.emit('verification.completed', data);
    const hook = received.find((r) => r.path === '/hook');
    assert.ok(hook);
    assert.equal(hook.headers['webhook-id'], 'id-42');
    const payload = new Webhook(secret).verify(hook.body, {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    }) as { type: string; timestamp: string; data: unknown };
    assert.equal(payload.type, 'dev.rekey.verification.completed');
    assert.deepEqual(payload.data, data);
    assert.ok(
      received.some((r) => r.path === '/broker'),
      'the CloudEvent went out too',
    );
  });

  it('signs with every secret, so the receiver can rotate', async () => {
    received.length = 0;
    const [a, b] = [0, 1].map(() => `whsec_${randomBytes(24).toString('base64')}`) as [
      string,
      string,
    ];
    const sink = new CloudEventSink({
      functionName: 'r',
      webhooks: { urls: [`${base}/hook`], secrets: [a, b] },
    });
    await sink.emit('revision.created', data);
    const hook = received[0];
    assert.ok(hook);
    const headers = {
      'webhook-id': String(hook.headers['webhook-id']),
      'webhook-timestamp': String(hook.headers['webhook-timestamp']),
      'webhook-signature': String(hook.headers['webhook-signature']),
    };
    assert.doesNotThrow(() => new Webhook(a).verify(hook.body, headers));
    assert.doesNotThrow(() => new Webhook(b).verify(hook.body, headers));
  });

  it('a webhook target that fails is reported, never an error of the emit', async () => {
    statusFor['/bad-hook'] = 500;
    received.length = 0;
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const reported: { target: string; type: string; failed: boolean }[] = [];
    const sink = new CloudEventSink({
      functionName: 'r',
      sink: `${base}/broker`,
      webhooks: { urls: [`${base}/hook`, `${base}/bad-hook`], secrets: [secret] },
      onWebhookDelivery: ({ target, type, error }) =>
        reported.push({ target, type, failed: error !== undefined }),
    });
    await sink.emit('migration.degraded', data);
    assert.deepEqual(reported, [
      { target: `${base}/hook`, type: 'dev.rekey.migration.degraded', failed: false },
      { target: `${base}/bad-hook`, type: 'dev.rekey.migration.degraded', failed: true },
    ]);
    assert.ok(received.some((r) => r.path === '/broker'));
  });

  it('sends the internal continuations to K_SINK only, never to a webhook', async () => {
    received.length = 0;
    const reported: string[] = [];
    const sink = new CloudEventSink({
      functionName: 'r',
      sink: `${base}/broker`,
      webhooks: {
        urls: [`${base}/hook`],
        secrets: [`whsec_${randomBytes(24).toString('base64')}`],
      },
      onWebhookDelivery: ({ type }) => reported.push(type),
    });
    await sink.emit('migration.slice', data);
    await sink.emit('step.requested', { provider: 'aws-kms', requestedBy: 'webhook' });
    assert.deepEqual(
      received.map((r) => r.path),
      ['/broker', '/broker'],
    );
    assert.deepEqual(reported, []);
  });

  it('needs a sink or a webhook URL', () => {
    assert.throws(() => new CloudEventSink({ functionName: 'r' }), TypeError);
  });
});
