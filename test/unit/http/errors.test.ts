// Error -> HTTP answer under Knative's retry rules: permanent 400/413/422 (never 404/409),
// retryable 503/429 with Retry-After, auth 401/403 for the sender, every failed dependency
// (whatever client raised it, however deep in the cause chain) a 503 with Retry-After, and only
// a programming error a 500 that leaks nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HTTPException } from 'hono/http-exception';
import { z } from 'zod';
import { KubeApiError } from '../../../shared/adapters/k8s/typed-api.ts';
import { InvalidProviderNameError } from '../../../shared/domain/errors.ts';
import {
  ForbiddenError,
  MAX_RETRY_AFTER_SECONDS,
  PayloadTooLargeError,
  PermanentError,
  REFUSED_RETRY_AFTER_SECONDS,
  TransientError,
  toHttpError,
  toHttpStatus,
  UnauthorizedError,
} from '../../../shared/http/errors.ts';

describe('toHttpError', () => {
  const table: [string, unknown, number, string, Record<string, string>][] = [
    ['a permanent error (default 400)', new PermanentError('bad event'), 400, 'bad_request', {}],
    [
      'a permanent 422',
      new PermanentError('unknown key', { status: 422 }),
      422,
      'unprocessable',
      {},
    ],
    ['a too-large body', new PayloadTooLargeError(10), 413, 'payload_too_large', {}],
    [
      'a transient error (default 503, Retry-After 5)',
      new TransientError('etcd down'),
      503,
      'unavailable',
      { 'Retry-After': '5' },
    ],
    [
      'a throttled transient error',
      new TransientError('slow down', { status: 429, retryAfterSeconds: 2.2 }),
      429,
      'too_many_requests',
      { 'Retry-After': '3' },
    ],
    [
      'an unauthorized sender',
      new UnauthorizedError('no token', { challenge: 'Bearer' }),
      401,
      'unauthorized',
      { 'WWW-Authenticate': 'Bearer' },
    ],
    ['a forbidden sender', new ForbiddenError('not allowed'), 403, 'forbidden', {}],
    [
      'a domain error',
      new InvalidProviderNameError('provider name is empty'),
      422,
      'unprocessable',
      {},
    ],
  ];
  for (const [name, err, status, code, headers] of table) {
    it(`maps ${name} to ${status}`, () => {
      const r = toHttpError(err);
      assert.equal(r.status, status);
      assert.equal(r.body.error, code);
      assert.equal(r.body.message, (err as Error).message);
      assert.deepEqual(r.headers, headers);
      assert.equal(toHttpStatus(err), status);
    });
  }

  it('maps a zod validation failure to 422 naming the fields, not the values', () => {
    const parsed = z
      .object({ provider: z.string(), n: z.number() })
      .safeParse({ provider: 7, n: 'secret-value' });
    assert.equal(parsed.success, false);
    const r = toHttpError(parsed.error);
    assert.equal(r.status, 422);
    assert.match(r.body.message, /provider/);
    assert.match(r.body.message, /n:/);
    assert.doesNotMatch(r.body.message, /secret-value/);
  });

  it('never answers 404, 408 or 409 for a rejection Knative would retry forever', () => {
    for (const status of [404, 408, 409] as const) {
      assert.equal(toHttpStatus(new HTTPException(status, { message: 'gone' })), 400);
    }
    assert.equal(toHttpStatus(new HTTPException(415)), 415);
    const throttled = toHttpError(new HTTPException(429));
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers['Retry-After'], '5');
  });

  it("answers an adapter's retryable error 503 with its Retry-After, never a 4xx, and no internals", () => {
    const kube = new KubeApiError(429, '{"message":"too many requests"}', 'GET /api/v1/x', 2.5);
    const r = toHttpError(kube);
    assert.equal(r.status, 503);
    assert.deepEqual(r.headers, { 'Retry-After': '3' });
    assert.deepEqual(r.body, {
      error: 'unavailable',
      message: 'temporarily unavailable, retry later',
    });
    const declared = toHttpError({ retryable: true });
    assert.equal(declared.status, 503);
    assert.equal(declared.headers['Retry-After'], '5');
  });

  it('answers a dependency that refused rekey for good 503 too, asking for a longer wait', () => {
    for (const err of [new KubeApiError(403, '', 'GET /api/v1/x'), { retryable: false }]) {
      const r = toHttpError(err);
      assert.equal(r.status, 503);
      assert.deepEqual(r.headers, { 'Retry-After': String(REFUSED_RETRY_AFTER_SECONDS) });
    }
  });

  it('answers every failed dependency 503 with Retry-After, whatever client raised it', () => {
    const net = (code: string) => Object.assign(new Error(`connect ${code}`), { code });
    for (const [what, err] of [
      ['the apiserver refusing the connection', new KubeApiError(0, 'ECONNREFUSED', 'GET /x')],
      ["the apiserver's 401 while rekey's token rotates", new KubeApiError(401, '', 'GET /x')],
      ['an apiserver 501', new KubeApiError(501, '', 'GET /x')],
      ['fetch failed (undici)', new TypeError('fetch failed', { cause: net('ECONNREFUSED') })],
      ['a reset', net('ECONNRESET')],
      ['a DNS failure', net('ENOTFOUND')],
      ['a TLS failure', net('UNABLE_TO_VERIFY_LEAF_SIGNATURE')],
      ['a timeout', new DOMException('timed out', 'TimeoutError')],
      ['an ApiException', Object.assign(new Error('HTTP-Code: 500'), { code: 500, body: '' })],
      ['an AWS SDK error', Object.assign(new Error('x'), { $metadata: { httpStatusCode: 500 } })],
      [
        'a gRPC error (etcd, GCP)',
        Object.assign(new Error('14 UNAVAILABLE'), { code: 14, details: '', metadata: {} }),
      ],
      ['a wrapped one', new Error('recording failed', { cause: net('ETIMEDOUT') })],
    ] as const) {
      const r = toHttpError(err);
      assert.equal(r.status, 503, what);
      assert.match(r.headers['Retry-After'] ?? '', /^\d+$/, what);
      assert.deepEqual(r.body, {
        error: 'unavailable',
        message: 'temporarily unavailable, retry later',
      });
    }
  });

  it('passes on a long Retry-After (2 minutes) and caps only an absurd one (a day: an hour)', () => {
    const minutes = toHttpError(new KubeApiError(429, '', 'GET /x', 120));
    assert.equal(minutes.headers['Retry-After'], '120');
    assert.equal(new TransientError('busy', { retryAfterSeconds: 120 }).retryAfterSeconds, 120);
    const day = toHttpError(new KubeApiError(429, '', 'GET /x', 86_400));
    assert.equal(day.headers['Retry-After'], String(MAX_RETRY_AFTER_SECONDS));
    assert.equal(MAX_RETRY_AFTER_SECONDS, 3600);
  });

  it("keeps a sender's 401 a 401 (only a dependency's 401 is retried)", () => {
    const r = toHttpError(new UnauthorizedError('bad token', { cause: 'token expired' }));
    assert.equal(r.status, 401);
  });

  it('maps anything unknown to a generic 500', () => {
    for (const err of [
      // a message is not a code: nothing says a dependency failed
      new Error('ECONNREFUSED 10.0.0.7:2379 password=hunter2'),
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      'a string',
      undefined,
      new HTTPException(500, { message: 'stack trace here' }),
    ]) {
      const r = toHttpError(err);
      assert.equal(r.status, 500);
      assert.deepEqual(r.body, { error: 'internal', message: 'internal error' });
    }
  });

  it('keeps name and cause on every error', () => {
    const cause = new Error('root');
    for (const err of [
      new PermanentError('p', { cause }),
      new TransientError('t', { cause }),
      new UnauthorizedError('u', { cause }),
      new ForbiddenError('f', { cause }),
      new PayloadTooLargeError(1, { cause }),
    ]) {
      assert.equal(err.name, err.constructor.name);
      assert.equal(err.cause, cause);
      assert.ok(err instanceof Error);
    }
  });
});
