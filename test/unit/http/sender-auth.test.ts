// Knative sender identity: the Bearer token is checked by an (injected) TokenReview for the
// audience, the ServiceAccount against the allow-list; answers are cached by hash (refusals
// briefly), and TokenReviews are rate-limited so refused requests stay cheap.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createApp } from '../../../shared/http/app.ts';
import {
  createTokenReviewAuthenticator,
  type ReviewToken,
  SenderAuthConfigError,
  type TokenReviewAuthenticatorOptions,
  type TokenReviewResult,
  tokenReviewerFor,
} from '../../../shared/http/sender-auth.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

const AUDIENCE = 'rekey/kms-event';
const BROKER = 'system:serviceaccount:knative-eventing:mt-broker-filter';
const OTHER = 'system:serviceaccount:default:curious';

/** A token shaped like a JWT, with an optional `exp` (seconds). */
function jwt(sub: string, exp?: number, aud = AUDIENCE): string {
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'RS256' })}.${enc({ sub, aud, ...(exp === undefined ? {} : { exp }) })}.c2ln`;
}

/** A fake apiserver: known tokens map to a username and the audiences they were minted for. */
function fakeReview(tokens: Record<string, { username: string; audiences: string[] }>) {
  const calls: { token: string; audiences: string[] }[] = [];
  const review: ReviewToken = async (spec) => {
    calls.push(spec);
    const t = tokens[spec.token];
    if (t === undefined) return { authenticated: false, error: 'invalid bearer token' };
    const audiences = t.audiences.filter((a) => spec.audiences.includes(a));
    if (audiences.length === 0)
      return { authenticated: false, error: 'token audiences are invalid' };
    return {
      authenticated: true,
      audiences,
      user: { username: t.username, uid: 'u-1', groups: ['system:serviceaccounts'] },
    };
  };
  return { review, calls };
}

function setup(review: ReviewToken, extra: Partial<TokenReviewAuthenticatorOptions> = {}) {
  const auth = createTokenReviewAuthenticator({
    audience: AUDIENCE,
    allowedSenders: [BROKER],
    reviewToken: review,
    ...extra,
  });
  const app = createApp({
    name: 'kms-event',
    logger: createLogger({ name: 'test', level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    readiness: async () => ({ ready: true, details: {} }),
    auth,
  });
  app.post('/kms-event', (c) => c.json({ sender: c.var.sender?.username }));
  const post = (authorization?: string) =>
    app.request('/kms-event', { method: 'POST', headers: authorization ? { authorization } : {} });
  return { app, post };
}

const brokerToken = jwt(BROKER);
const otherAudienceToken = jwt(BROKER, undefined, 'https://kubernetes.default.svc');
const otherSaToken = jwt(OTHER);
const tokens = {
  [brokerToken]: { username: BROKER, audiences: [AUDIENCE] },
  [otherAudienceToken]: { username: BROKER, audiences: ['https://kubernetes.default.svc'] },
  [otherSaToken]: { username: OTHER, audiences: [AUDIENCE] },
};

describe('sender authentication (TokenReview)', () => {
  it('answers 401 with a Bearer challenge when no token is sent', async () => {
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review);
    for (const header of [undefined, 'Basic dXNlcjpwYXNz', 'Bearer', 'Bearer a b']) {
      const res = await post(header);
      assert.equal(res.status, 401, String(header));
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    assert.equal(calls.length, 0, 'no TokenReview for a missing token');
  });

  it('answers 401 when the TokenReview does not authenticate the token', async () => {
    const { review } = fakeReview(tokens);
    const { post } = setup(review);
    const res = await post(`Bearer ${jwt('nobody')}`);
    assert.equal(res.status, 401);
    assert.doesNotMatch(
      await res.text(),
      /invalid bearer token/,
      'the apiserver reason stays internal',
    );
  });

  it('answers 401 to a token minted for another audience', async () => {
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review);
    const res = await post(`Bearer ${otherAudienceToken}`);
    assert.equal(res.status, 401);
    assert.deepEqual(calls[0]?.audiences, [AUDIENCE], "the review asks for rekey's audience");
  });

  it('answers 401 when an audience-unaware review leaves the audience out', async () => {
    const review: ReviewToken = async () => ({ authenticated: true, user: { username: BROKER } });
    const { post } = setup(review);
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 401);
  });

  it('answers 403 to a ServiceAccount that is not allowed', async () => {
    const { review } = fakeReview(tokens);
    const { post } = setup(review);
    const res = await post(`Bearer ${otherSaToken}`);
    assert.equal(res.status, 403);
    assert.match(((await res.json()) as { message: string }).message, /default:curious/);
  });

  it('lets an allowed sender through and names it', async () => {
    const { review } = fakeReview(tokens);
    const { post } = setup(review);
    const res = await post(`Bearer ${brokerToken}`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { sender: BROKER });
  });

  it('caches a positive answer for 60 s, keyed by a hash of the token', async () => {
    let now = 1_000_000;
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review, { now: () => now });
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 200);
    now += 59_000;
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 200);
    assert.equal(calls.length, 1, 'the second request needed no TokenReview');
    now += 2_000;
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 200);
    assert.equal(calls.length, 2, 'the cached answer expired after 60 s');
  });

  it('never caches past the token expiry, and a refusal only briefly', async () => {
    const now = 1_000_000_000_000;
    const shortLived = jwt(BROKER, now / 1000 + 5);
    const { review, calls } = fakeReview({
      ...tokens,
      [shortLived]: { username: BROKER, audiences: [AUDIENCE] },
    });
    let clock = now;
    const { post } = setup(review, { now: () => clock });
    await post(`Bearer ${shortLived}`);
    clock += 6_000;
    await post(`Bearer ${shortLived}`);
    assert.equal(calls.length, 2);
    assert.equal((await post(`Bearer ${otherSaToken}`)).status, 403);
    assert.equal((await post(`Bearer ${otherSaToken}`)).status, 403);
    assert.equal(calls.length, 3, 'a refusal is remembered');
    clock += 10_001;
    assert.equal((await post(`Bearer ${otherSaToken}`)).status, 403);
    assert.equal(calls.length, 4, 'for 10 s');
  });

  it('answers a bad token sent again from the cache: one TokenReview, the same 401', async () => {
    let clock = 1_000_000;
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review, { now: () => clock });
    const bad = `Bearer ${jwt('nobody')}`;
    for (let i = 0; i < 50; i++) {
      const res = await post(bad);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Bearer');
    }
    assert.equal(calls.length, 1, 'one TokenReview for 50 requests with the same bad token');
    clock += 11_000;
    assert.equal((await post(bad)).status, 401);
    assert.equal(calls.length, 2, 'asked again once the refusal expired');
  });

  it('rate-limits TokenReviews: a flood of distinct bad tokens gets 429 + Retry-After, unasked', async () => {
    let clock = 1_000_000;
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review, { now: () => clock, reviewsPerSecond: 2, reviewBurst: 5 });
    // an allowed sender, known before the flood
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 200);
    const statuses: number[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 40; i++) {
      const res = await post(`Bearer ${jwt(`intruder-${i}`)}`);
      statuses.push(res.status);
      if (res.status === 429) retryAfter = res.headers.get('retry-after');
    }
    assert.deepEqual(
      statuses,
      [401, 401, 401, 401, ...Array(36).fill(429)],
      'the burst (5, one spent on the sender) is reviewed, the rest refused unasked',
    );
    assert.equal(calls.length, 5, 'no TokenReview past the limit');
    assert.equal(retryAfter, '1');
    assert.equal((await post(`Bearer ${brokerToken}`)).status, 200, 'a known sender still passes');
    assert.equal(calls.length, 5);
    clock += 1_000;
    assert.equal((await post(`Bearer ${jwt('later')}`)).status, 401, 'the bucket refills');
    assert.equal(calls.length, 6);
  });

  it('shares one TokenReview among concurrent requests with the same token', async () => {
    const { review, calls } = fakeReview(tokens);
    const { post } = setup(review);
    const answers = await Promise.all(
      Array.from({ length: 10 }, () => post(`Bearer ${brokerToken}`)),
    );
    assert.deepEqual(
      answers.map((r) => r.status),
      Array(10).fill(200),
    );
    assert.equal(calls.length, 1);
  });

  it('answers 503 with Retry-After when the apiserver cannot be asked', async () => {
    const review: ReviewToken = async () => {
      throw new Error('connect ECONNREFUSED 10.96.0.1:443');
    };
    const { post } = setup(review);
    const res = await post(`Bearer ${brokerToken}`);
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'));
    assert.doesNotMatch(await res.text(), /10\.96/);
  });

  it('refuses settings that can never work', () => {
    const { review } = fakeReview(tokens);
    const bad: Partial<TokenReviewAuthenticatorOptions>[] = [
      { audience: ' ' },
      { allowedSenders: [] },
      { allowedSenders: ['knative-eventing:mt-broker-filter'] },
      { allowedSenders: ['system:serviceaccount:Bad_NS:x'] },
    ];
    for (const b of bad) {
      assert.throws(
        () =>
          createTokenReviewAuthenticator({
            audience: AUDIENCE,
            allowedSenders: [BROKER],
            reviewToken: review,
            ...b,
          }),
        SenderAuthConfigError,
      );
    }
  });
});

describe('tokenReviewerFor', () => {
  it('sends a TokenReview with the token and audiences and returns its status', async () => {
    const sent: unknown[] = [];
    const status: TokenReviewResult = {
      authenticated: true,
      audiences: [AUDIENCE],
      user: { username: BROKER },
    };
    const api = {
      createTokenReview: async (param: { body: unknown }) => {
        sent.push(param.body);
        return { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenReview', spec: {}, status };
      },
    };
    const review = tokenReviewerFor(api as unknown as Parameters<typeof tokenReviewerFor>[0]);
    assert.deepEqual(await review({ token: 't0k', audiences: [AUDIENCE] }), status);
    assert.deepEqual(sent, [
      {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenReview',
        spec: { token: 't0k', audiences: [AUDIENCE] },
      },
    ]);
  });
});
