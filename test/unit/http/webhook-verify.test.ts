// Standard Webhooks verification: a valid message passes, the second of two secrets passes
// (rotation), a wrong signature or a stale timestamp is 401, a replay of a processed id is
// answered with the recorded answer and `duplicate: true` without running the handler again, and
// the id is claimed before the handler runs: a copy arriving while it runs is a 429, not a run.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { createApp } from '../../../shared/http/app.ts';
import { TransientError } from '../../../shared/http/errors.ts';
import { MemoryReplayClaims } from '../../../shared/http/replay-cache.ts';
import { TtlLru } from '../../../shared/http/ttl-lru.ts';
import {
  createWebhookVerifier,
  type VerifyWebhookOptions,
  verifyWebhook,
  WebhookConfigError,
} from '../../../shared/http/webhook-verify.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

const secret = () => `whsec_${randomBytes(24).toString('base64')}`;
const OLD = secret();
const NEW = secret();

function signed(sec: string, body: string, { id = 'msg_1', at = new Date() } = {}) {
  const signature = new Webhook(sec).sign(id, at, body);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': signature,
    },
    body,
  };
}

function setup(
  options: Partial<VerifyWebhookOptions> = {},
  status: 200 | 500 = 200,
  gate: Promise<void> = Promise.resolve(),
) {
  const logger = createLogger({ name: 'test', level: 'silent' });
  const metrics = createMetrics({ defaultMetrics: false });
  const app = createApp({
    name: 'webhook',
    logger,
    metrics,
    readiness: async () => ({ ready: true, details: {} }),
  });
  const handled: unknown[] = [];
  const claims = options.claims ?? new MemoryReplayClaims();
  app.post('/webhook', verifyWebhook({ secrets: [OLD, NEW], ...options, claims }), async (c) => {
    handled.push(c.var.webhook.payload);
    if (handled.length === 1) await gate; // only the first call is held
    return status === 200
      ? c.json({ ok: true, id: c.var.webhook.id })
      : c.json({ error: 'x' }, 500);
  });
  return { app, handled, metrics };
}

const body = JSON.stringify({ command: 'reconcile', provider: 'aws-kms' });

describe('verifyWebhook', () => {
  it('accepts a message signed with the current secret and hands over the parsed payload', async () => {
    const { app, handled } = setup();
    const res = await app.request('/webhook', signed(OLD, body));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ok: true, id: 'msg_1' });
    assert.deepEqual(handled, [{ command: 'reconcile', provider: 'aws-kms' }]);
  });

  it('accepts a message signed with the second of two secrets (rotation)', async () => {
    const { app, handled } = setup();
    const res = await app.request('/webhook', signed(NEW, body));
    assert.equal(res.status, 200);
    assert.equal(handled.length, 1);
  });

  it('accepts a header carrying several signatures when one matches', async () => {
    const { app } = setup();
    const req = signed(NEW, body);
    req.headers['webhook-signature'] = `v1,AAAA ${req.headers['webhook-signature']} v2,ignored`;
    assert.equal((await app.request('/webhook', req)).status, 200);
  });

  it('refuses a wrong signature, a tampered body and missing headers with 401', async () => {
    const { app, handled } = setup();
    const wrong = await app.request('/webhook', signed(secret(), body));
    assert.equal(wrong.status, 401);
    assert.equal(((await wrong.json()) as { error: string }).error, 'unauthorized');

    const tampered = signed(OLD, body);
    tampered.body = body.replace('reconcile', 'rotate');
    assert.equal((await app.request('/webhook', tampered)).status, 401);

    const bare = signed(OLD, body);
    delete (bare.headers as Record<string, string>)['webhook-signature'];
    assert.equal((await app.request('/webhook', bare)).status, 401);
    assert.equal(handled.length, 0);
  });

  it('refuses a stale or future timestamp with 401, inside the configured tolerance otherwise', async () => {
    const { app, handled } = setup({ toleranceSeconds: 60 });
    const stale = await app.request(
      '/webhook',
      signed(OLD, body, { at: new Date(Date.now() - 61_000) }),
    );
    assert.equal(stale.status, 401);
    assert.match(((await stale.json()) as { message: string }).message, /too old/);
    const future = await app.request(
      '/webhook',
      signed(OLD, body, { at: new Date(Date.now() + 120_000) }),
    );
    assert.equal(future.status, 401);
    const recent = await app.request(
      '/webhook',
      signed(OLD, body, { id: 'msg_2', at: new Date(Date.now() - 30_000) }),
    );
    assert.equal(recent.status, 200);
    assert.equal(handled.length, 1);
  });

  it('allows a tolerance wider than the library default of 5 minutes', async () => {
    const { app } = setup({ toleranceSeconds: 900 });
    const res = await app.request(
      '/webhook',
      signed(OLD, body, { at: new Date(Date.now() - 600_000) }),
    );
    assert.equal(res.status, 200);
  });

  it('answers a replay of a processed id with its recorded answer and duplicate: true, without running the handler', async () => {
    const { app, handled, metrics } = setup();
    const first = await app.request('/webhook', signed(OLD, body, { id: 'msg_replay' }));
    assert.equal(first.status, 200);
    const replay = await app.request('/webhook', signed(OLD, body, { id: 'msg_replay' }));
    assert.equal(replay.status, 200);
    assert.deepEqual(await replay.json(), { ok: true, id: 'msg_replay', duplicate: true });
    assert.equal(handled.length, 1);
    assert.match(
      await metrics.render(),
      /rekey_events_received_total\{function="webhook",type="webhook",outcome="duplicate"\} 1/,
    );
  });

  it('does not treat a forged message reusing a processed id as a duplicate', async () => {
    const { app } = setup();
    await app.request('/webhook', signed(OLD, body, { id: 'msg_x' }));
    const forged = await app.request('/webhook', signed(secret(), body, { id: 'msg_x' }));
    assert.equal(forged.status, 401);
  });

  it('lets a sender retry an id whose first delivery failed', async () => {
    const { app, handled } = setup({}, 500);
    assert.equal((await app.request('/webhook', signed(OLD, body, { id: 'msg_f' }))).status, 500);
    assert.equal((await app.request('/webhook', signed(OLD, body, { id: 'msg_f' }))).status, 500);
    assert.equal(handled.length, 2);
  });

  it('claims the id before the handler runs: a copy arriving meanwhile is a 429 with Retry-After, then gets the result', async () => {
    let open = () => {};
    const gate = new Promise<void>((r) => {
      open = r;
    });
    const { app, handled } = setup({}, 200, gate);
    const first = app.request('/webhook', signed(OLD, body, { id: 'msg_twice' }));
    // the first copy is in the handler (held by the gate) when the second arrives
    while (handled.length === 0) await new Promise((r) => setImmediate(r));
    const second = await app.request('/webhook', signed(OLD, body, { id: 'msg_twice' }));
    assert.equal(second.status, 429);
    assert.ok(Number(second.headers.get('retry-after')) > 0, 'the sender is told when to retry');
    open();
    assert.equal((await first).status, 200);
    const later = await app.request('/webhook', signed(OLD, body, { id: 'msg_twice' }));
    assert.deepEqual(await later.json(), { ok: true, id: 'msg_twice', duplicate: true });
    assert.equal(handled.length, 1, 'the handler ran once');
  });

  it('runs nothing when the claim store fails: 503 with Retry-After', async () => {
    const down = new TransientError('claims unreachable', { retryAfterSeconds: 7 });
    const { app, handled } = setup({
      claims: {
        claim: () => Promise.reject(down),
        complete: async () => {},
        release: async () => {},
      },
    });
    const res = await app.request('/webhook', signed(OLD, body, { id: 'msg_down' }));
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '7');
    assert.equal(handled.length, 0);
  });

  it('answers 400 to a signed body that is not JSON', async () => {
    const { app } = setup();
    assert.equal((await app.request('/webhook', signed(OLD, 'not json'))).status, 400);
  });

  it('answers 413 to a body over maxBytes before verifying it', async () => {
    const { app } = setup({ maxBytes: 16 });
    assert.equal((await app.request('/webhook', signed(OLD, body))).status, 413);
  });
});

describe('createWebhookVerifier', () => {
  it('refuses secrets that are not whsec_<base64 of 16+ bytes>, without echoing them', () => {
    for (const bad of [
      'plain-secret-value',
      'whsec_',
      `whsec_${Buffer.from('short').toString('base64')}`,
      'whsec_***',
    ]) {
      assert.throws(
        () => createWebhookVerifier({ secrets: [NEW, bad] }),
        (err: Error) =>
          err instanceof WebhookConfigError &&
          err.name === 'WebhookConfigError' &&
          /secret #2/.test(err.message) &&
          !/plain-secret-value|c2hvcnQ/.test(err.message),
      );
    }
    assert.throws(() => createWebhookVerifier({ secrets: [] }), WebhookConfigError);
  });

  it('verifies against an injected clock', () => {
    const at = new Date('2026-01-01T00:00:00Z');
    const verify = createWebhookVerifier({ secrets: [OLD], now: () => at.getTime() + 10_000 });
    const req = signed(OLD, body, { id: 'msg_c', at });
    const v = verify(body, req.headers);
    assert.equal(v.id, 'msg_c');
    assert.equal(v.timestamp.getTime(), at.getTime());
  });
});

describe('MemoryReplayClaims', () => {
  const times = (now: number, ttl = 1000) => ({
    expiresAt: new Date(now + ttl),
    staleAfterMs: 500,
  });

  it('claims once, keeps the answer until expiry, forgets a released id, and stays bounded', async () => {
    let now = 0;
    const claims = new MemoryReplayClaims({ maxEntries: 2, now: () => now });
    const a = await claims.claim('a', times(now));
    assert.equal(a.kind, 'claimed');
    assert.equal((await claims.claim('a', times(now))).kind, 'running');
    if (a.kind === 'claimed') await claims.complete(a.claim, { status: 200, body: { r: 1 } });
    assert.deepEqual(await claims.claim('a', times(now)), {
      kind: 'done',
      answer: { status: 200, body: { r: 1 } },
    });
    now = 1000;
    assert.equal((await claims.claim('a', times(now))).kind, 'claimed', 'expired: runs again');

    const b = await claims.claim('b', times(now));
    if (b.kind === 'claimed') await claims.release(b.claim);
    assert.equal((await claims.claim('b', times(now))).kind, 'claimed', 'released: runs again');

    await claims.claim('c', times(now));
    await claims.claim('d', times(now));
    assert.equal((await claims.claim('a', times(now))).kind, 'claimed', 'evicted when full');
  });

  it('lets a claim whose holder went quiet past staleAfterMs be taken over', async () => {
    let now = 0;
    const claims = new MemoryReplayClaims({ now: () => now });
    await claims.claim('x', times(now, 10_000));
    now = 499;
    assert.equal((await claims.claim('x', times(now, 10_000))).kind, 'running');
    now = 500;
    assert.equal((await claims.claim('x', times(now, 10_000))).kind, 'claimed');
  });

  it('keeps at most maxEntries entries', () => {
    const lru = new TtlLru<number>({ maxEntries: 3 });
    for (let i = 0; i < 100; i++) lru.set(String(i), i, 60_000);
    assert.equal(lru.size, 3);
    assert.equal(lru.get('99'), 99);
    assert.equal(lru.get('0'), undefined);
  });
});
