// Classification of one no-op patch attempt (done / failed for good / retry) and the backoff it
// asks for: Retry-After honoured and capped, exponential steps with jitter, attempts bounded.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs } from '../../../shared/domain/backoff.ts';
import {
  type ClassifyOptions,
  classifyPatch,
  isFinal,
  type PatchAttempt,
  type RewriteOutcome,
} from '../../../shared/domain/rewrite-outcome.ts';

const zero = () => 0;
const WEBHOOK = 'admission webhook "deny.example.com" denied the request: secrets in ns are frozen';
const POLICY =
  "secrets \"s\" is forbidden: ValidatingAdmissionPolicy 'no-touch' with binding 'b' denied request: nope";

const cases: [string, PatchAttempt, ClassifyOptions, RewriteOutcome][] = [
  [
    'resourceVersion changed: re-encrypted',
    { ok: true, before: '1', after: '2' },
    {},
    'reencrypted',
  ],
  [
    'resourceVersion unchanged: already current',
    { ok: true, before: '1', after: '1' },
    {},
    'unchanged',
  ],
  ['409: someone wrote it with the current key', { ok: false, status: 409 }, {}, 'conflict'],
  ['404: deleted meanwhile', { ok: false, status: 404, reason: 'NotFound' }, {}, 'gone'],
  [
    '403 by an admission webhook',
    { ok: false, status: 403, message: WEBHOOK },
    {},
    { failed: 'denied by admission webhook "deny.example.com": secrets in ns are frozen' },
  ],
  [
    '400 by an admission webhook',
    { ok: false, status: 400, message: 'admission webhook "w.example.com" denied the request' },
    {},
    { failed: 'denied by admission webhook "w.example.com"' },
  ],
  [
    '422 by a ValidatingAdmissionPolicy',
    { ok: false, status: 422, message: POLICY },
    {},
    { failed: 'denied by ValidatingAdmissionPolicy "no-touch": nope' },
  ],
  [
    '403 by RBAC',
    { ok: false, status: 403, reason: 'Forbidden', message: 'cannot patch resource "secrets"' },
    {},
    { failed: 'forbidden: cannot patch resource "secrets"' },
  ],
  [
    '403 with only a reason',
    { ok: false, status: 403, reason: 'Forbidden' },
    {},
    { failed: 'forbidden: Forbidden' },
  ],
  [
    '422 invalid',
    { ok: false, status: 422, message: 'field is immutable' },
    {},
    { failed: 'invalid: field is immutable' },
  ],
  [
    '422 with only a reason',
    { ok: false, status: 422, reason: 'Invalid' },
    {},
    { failed: 'invalid: Invalid' },
  ],
  ['400 without details', { ok: false, status: 400 }, {}, { failed: 'bad request' }],
  [
    '410 is list-level, not an object outcome: a failure if it ever shows here',
    { ok: false, status: 410, reason: 'Gone', message: 'too old' },
    {},
    { failed: 'HTTP 410 Gone: too old' },
  ],
  ['501 is not transient', { ok: false, status: 501 }, {}, { failed: 'HTTP 501' }],
  [
    '429 with Retry-After',
    { ok: false, status: 429, retryAfterSeconds: 2 },
    { random: zero },
    { retry: 2000 },
  ],
  [
    'a Retry-After past the backoff cap is honoured (2 minutes, cap 30 s)',
    { ok: false, status: 429, retryAfterSeconds: 120 },
    { random: zero, maxDelayMs: 30_000 },
    { retry: 120_000 },
  ],
  [
    'an absurd Retry-After counts as an hour',
    { ok: false, status: 429, retryAfterSeconds: 86_400 },
    { random: zero, maxDelayMs: 30_000 },
    { retry: 3_600_000 },
  ],
  [
    '503 first attempt: half a base step at least',
    { ok: false, status: 503 },
    { random: zero },
    { retry: 250 },
  ],
  [
    '503 third attempt: the step doubled twice',
    { ok: false, status: 503 },
    { attempt: 3, random: zero },
    { retry: 1000 },
  ],
  ['500 retried', { ok: false, status: 500 }, { random: zero }, { retry: 250 }],
  ['502 retried', { ok: false, status: 502 }, { random: zero }, { retry: 250 }],
  ['504 retried', { ok: false, status: 504 }, { random: zero }, { retry: 250 }],
  ['408 retried', { ok: false, status: 408 }, { random: zero }, { retry: 250 }],
  [
    'no response (status 0) retried',
    { ok: false, status: 0, message: 'ECONNRESET' },
    { random: zero },
    { retry: 250 },
  ],
  // a brownout outlasting the attempts is exhausted, never a failure: the page waits for a later step
  [
    'transient until the last attempt: exhausted, not failed',
    { ok: false, status: 503, reason: 'ServiceUnavailable', message: 'etcd leader changed' },
    { attempt: 5, maxAttempts: 5 },
    { exhausted: 'HTTP 503 ServiceUnavailable: etcd leader changed (5 attempts)' },
  ],
  [
    'no response until the last attempt: exhausted, not failed',
    { ok: false, status: 0, message: 'ECONNRESET' },
    { attempt: 2, maxAttempts: 2 },
    { exhausted: 'no response: ECONNRESET (2 attempts)' },
  ],
  [
    '429 until the last attempt: exhausted, not failed',
    { ok: false, status: 429, reason: 'TooManyRequests', retryAfterSeconds: 1 },
    { attempt: 5, maxAttempts: 5 },
    { exhausted: 'HTTP 429 TooManyRequests (5 attempts)' },
  ],
];

describe('classifyPatch', () => {
  for (const [name, attempt, options, want] of cases) {
    it(name, () => assert.deepEqual(classifyPatch(attempt, options), want));
  }

  it('keeps a reason short and on one line', () => {
    const message = `line one\nline two ${'x'.repeat(500)}`;
    const got = classifyPatch({ ok: false, status: 422, message });
    assert.ok(typeof got === 'object' && 'failed' in got);
    assert.ok(!got.failed.includes('\n'));
    assert.ok(got.failed.length <= 'invalid: '.length + 120);
    assert.ok(got.failed.endsWith('…'));
  });

  it('spreads retries with the random source', () => {
    const lo = classifyPatch({ ok: false, status: 503 }, { random: () => 0 });
    const hi = classifyPatch({ ok: false, status: 503 }, { random: () => 0.5 });
    assert.deepEqual([lo, hi], [{ retry: 250 }, { retry: 375 }]);
  });
});

describe('isFinal', () => {
  const table: [RewriteOutcome, boolean][] = [
    ['reencrypted', true],
    ['unchanged', true],
    ['conflict', true],
    ['gone', true],
    [{ failed: 'x' }, true],
    [{ retry: 10 }, false],
    [{ exhausted: 'HTTP 503' }, false],
  ];
  for (const [outcome, want] of table) {
    it(`${JSON.stringify(outcome)} -> ${want}`, () => assert.equal(isFinal(outcome), want));
  }
});

describe('backoffDelayMs', () => {
  const table: [string, Parameters<typeof backoffDelayMs>[0], number][] = [
    ['first attempt, lowest jitter', { attempt: 1, random: zero }, 250],
    ['first attempt, highest jitter', { attempt: 1, random: () => 0.999_999 }, 500],
    ['grows exponentially', { attempt: 4, random: zero }, 2000],
    ['is capped', { attempt: 40, random: () => 0.999_999, maxDelayMs: 10_000 }, 10_000],
    ['a custom base', { attempt: 2, random: zero, baseDelayMs: 100 }, 100],
    ['attempt below 1 counts as 1', { attempt: 0, random: zero }, 250],
    ['a NaN attempt counts as 1', { attempt: Number.NaN, random: zero }, 250],
    ['a random source out of range is clamped low', { attempt: 1, random: () => -3 }, 250],
    ['a random source out of range is clamped high', { attempt: 1, random: () => 7 }, 500],
    ['a NaN random counts as 0', { attempt: 1, random: () => Number.NaN }, 250],
    [
      'Retry-After plus up to one base step',
      { attempt: 1, retryAfterSeconds: 1, random: () => 0.5 },
      1250,
    ],
    ['backoff beyond Retry-After wins', { attempt: 6, retryAfterSeconds: 1, random: zero }, 8000],
    ['a zero Retry-After is ignored', { attempt: 1, retryAfterSeconds: 0, random: zero }, 250],
    ['a negative Retry-After is ignored', { attempt: 1, retryAfterSeconds: -5, random: zero }, 250],
    [
      'an infinite Retry-After is ignored',
      { attempt: 1, retryAfterSeconds: Infinity, random: zero },
      250,
    ],
  ];
  for (const [name, options, want] of table) {
    it(name, () => assert.equal(backoffDelayMs(options), want));
  }

  it('defaults to Math.random, within bounds', () => {
    const ms = backoffDelayMs({ attempt: 2 });
    assert.ok(ms >= 500 && ms <= 1000, String(ms));
  });
});
