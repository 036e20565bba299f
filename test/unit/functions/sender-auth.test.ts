// Contract tests of the functions with Knative sender identity on, through app.request(): the app is
// built as shared/app/functions.ts builds it (TokenReview authenticator, its UNAUTHENTICATED_PATHS
// exempt: `/webhook` and `/kms-event/eventbridge`), with kms-event, cluster-event, reconcile and
// webhook mounted and a fake TokenReview. CloudEvent endpoints need an allowed ServiceAccount's token (401/403
// otherwise); the webhook stays signed, raw EventBridge stays behind its shared secret, the Azure
// handshake and the probes need no token.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { mountClusterEvent } from '../../../functions/cluster-event/route.ts';
import { EVENTBRIDGE_TOKEN_HEADER, mountKmsEvent } from '../../../functions/kms-event/route.ts';
import { mountReconcile } from '../../../functions/reconcile/route.ts';
import { mountWebhook } from '../../../functions/webhook/route.ts';
import { UNAUTHENTICATED_PATHS } from '../../../shared/app/functions.ts';
import { MemoryReplayClaims } from '../../../shared/http/replay-cache.ts';
import {
  createTokenReviewAuthenticator,
  type ReviewToken,
} from '../../../shared/http/sender-auth.ts';
import {
  type Call,
  cloudEvent,
  cloudEventRequest,
  fakeStep,
  fixture,
  fns,
  type Json,
  MODES,
  NOTED,
  testApp,
} from '../../support/unit/functions-fixtures.ts';

const AUDIENCE = 'rekey/kms-event';
const BROKER = 'system:serviceaccount:knative-eventing:mt-broker-filter';
const OTHER_SA = 'system:serviceaccount:default:curious';
const EB_TOKEN = 'eb-shared-secret-0123456789abcdef';
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

const BROKER_TOKEN = 'broker.token.sig';
const OTHER_SA_TOKEN = 'other.sa.sig';
const WRONG_AUDIENCE_TOKEN = 'broker.other-aud.sig';

/** A fake apiserver TokenReview: known tokens, each minted for some audiences. */
function fakeReview() {
  const tokens: Record<string, { username: string; audiences: string[] }> = {
    [BROKER_TOKEN]: { username: BROKER, audiences: [AUDIENCE] },
    [OTHER_SA_TOKEN]: { username: OTHER_SA, audiences: [AUDIENCE] },
    [WRONG_AUDIENCE_TOKEN]: { username: BROKER, audiences: ['https://kubernetes.default.svc'] },
  };
  const reviews: string[] = [];
  const review: ReviewToken = async ({ token, audiences }) => {
    reviews.push(token);
    const t = tokens[token];
    if (t === undefined) return { authenticated: false, error: 'invalid bearer token' };
    const matching = t.audiences.filter((a) => audiences.includes(a));
    if (matching.length === 0)
      return { authenticated: false, error: 'token audiences are invalid' };
    return { authenticated: true, audiences: matching, user: { username: t.username } };
  };
  return { review, reviews };
}

function setup() {
  const calls: Call[] = [];
  const { review, reviews } = fakeReview();
  const auth = createTokenReviewAuthenticator({
    audience: AUDIENCE,
    allowedSenders: [BROKER],
    reviewToken: review,
  });
  const { app } = testApp({
    name: 'all',
    auth,
    unauthenticatedPaths: UNAUTHENTICATED_PATHS,
  });
  const step = fakeStep(calls);
  mountKmsEvent(app, {
    provider: 'aws-kms',
    cloudEvents: 'sender-identity',
    eventBridgeToken: EB_TOKEN,
    clear: async () => ({ cleared: [], stillActive: 0 }),
    note: async (r) => {
      calls.push({ fn: 'note', arg: r });
      return NOTED;
    },
    danger: async (d) => {
      calls.push({ fn: 'danger', arg: d });
      return {};
    },
    step,
  });
  mountClusterEvent(app, { namespace: 'rekey-system', stateNamespace: 'rekey-system', step });
  mountReconcile(app, {
    provider: 'aws-kms',
    step,
    continueLater: async (data) => void calls.push({ fn: 'continueLater', arg: data }),
  });
  mountWebhook(
    app,
    {
      provider: 'aws-kms',
      step,
      status: async () => {
        calls.push({ fn: 'status' });
        return {};
      },
    },
    { secrets: [WEBHOOK_SECRET], claims: new MemoryReplayClaims() },
  );
  return { app, calls, reviews };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

function kmsEvent(mode: 'binary' | 'structured', headers: Record<string, string> = {}) {
  return cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), mode, headers);
}

function rawEventBridge(headers: Record<string, string>) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(fixture('aws-cmk-rotation-automatic.json')),
  };
}

function signedWebhook(payload: Json, headers: Record<string, string> = {}) {
  const id = `msg_${randomBytes(6).toString('hex')}`;
  const at = new Date();
  const body = JSON.stringify(payload);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(WEBHOOK_SECRET).sign(id, at, body),
      ...headers,
    },
    body,
  };
}

async function body(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

describe('sender auth on: CloudEvent endpoints', () => {
  for (const mode of MODES) {
    it(`/kms-event (${mode}) without Authorization => 401 with a Bearer challenge, nothing runs`, async () => {
      const { app, calls, reviews } = setup();
      const res = await app.request('/kms-event', kmsEvent(mode));
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('WWW-Authenticate'), 'Bearer');
      assert.equal((await body(res)).error, 'unauthorized');
      assert.deepEqual(calls, []);
      assert.deepEqual(reviews, [], 'no TokenReview without a token');
    });

    it(`/kms-event (${mode}) from the allowed ServiceAccount => 200 rotation`, async () => {
      const { app, calls, reviews } = setup();
      const res = await app.request('/kms-event', kmsEvent(mode, bearer(BROKER_TOKEN)));
      assert.equal(res.status, 200);
      assert.equal((await body(res)).outcome, 'rotation');
      assert.deepEqual(fns(calls), ['note', 'step']);
      assert.deepEqual(reviews, [BROKER_TOKEN]);
    });

    it(`/kms-event (${mode}) from another ServiceAccount => 403, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event', kmsEvent(mode, bearer(OTHER_SA_TOKEN)));
      assert.equal(res.status, 403);
      const b = await body(res);
      assert.equal(b.error, 'forbidden');
      assert.match(String(b.message), /system:serviceaccount:default:curious is not allowed/);
      assert.deepEqual(calls, []);
    });
  }

  for (const [what, authorization] of [
    ['a token minted for another audience', `Bearer ${WRONG_AUDIENCE_TOKEN}`],
    ['an unknown token', 'Bearer not.a.token'],
    ['Basic credentials', 'Basic dXNlcjpwYXNz'],
    ['an empty Bearer', 'Bearer'],
  ] as const) {
    it(`/kms-event with ${what} => 401, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event', kmsEvent('binary', { authorization }));
      assert.equal(res.status, 401);
      assert.deepEqual(calls, []);
    });
  }

  it('the token is checked before the body: a malformed event without a token => 401, with one => 400', async () => {
    const { app, calls } = setup();
    const bad = {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{',
    };
    assert.equal((await app.request('/kms-event', bad)).status, 401);
    const withToken = { ...bad, headers: { ...bad.headers, ...bearer(BROKER_TOKEN) } };
    assert.equal((await app.request('/kms-event', withToken)).status, 400);
    assert.deepEqual(calls, []);
  });

  it('the TokenReview being unavailable => 503 with Retry-After (Knative retries)', async () => {
    const calls: Call[] = [];
    const auth = createTokenReviewAuthenticator({
      audience: AUDIENCE,
      allowedSenders: [BROKER],
      reviewToken: async () => {
        throw new Error('connect ECONNREFUSED apiserver');
      },
    });
    const { app } = testApp({ auth, unauthenticatedPaths: ['/webhook', '/kms-event/eventbridge'] });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'sender-identity',
      clear: async () => ({ cleared: [], stillActive: 0 }),
      note: async () => NOTED,
      danger: async () => ({}),
      step: fakeStep(calls),
    });
    const res = await app.request('/kms-event', kmsEvent('binary', bearer(BROKER_TOKEN)));
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('Retry-After'));
    assert.ok(!(await res.text()).includes('ECONNREFUSED'));
    assert.deepEqual(calls, []);
  });

  it('/cluster-event and /reconcile need the token too', async () => {
    const { app, calls } = setup();
    const clusterEv = fixture('apiserversource-ref-update-revision.json');
    const ping = cloudEvent('dev.knative.sources.ping', {});
    assert.equal(
      (await app.request('/cluster-event', cloudEventRequest(clusterEv, 'binary'))).status,
      401,
    );
    assert.equal((await app.request('/reconcile', cloudEventRequest(ping, 'binary'))).status, 401);
    assert.equal(
      (await app.request('/reconcile', cloudEventRequest(ping, 'binary', bearer(OTHER_SA_TOKEN))))
        .status,
      403,
    );
    assert.deepEqual(calls, []);
    const ok = await app.request(
      '/reconcile',
      cloudEventRequest(ping, 'structured', bearer(BROKER_TOKEN)),
    );
    assert.equal(ok.status, 200);
    const okCluster = await app.request(
      '/cluster-event',
      cloudEventRequest(clusterEv, 'structured', bearer(BROKER_TOKEN)),
    );
    assert.equal(okCluster.status, 200);
    assert.deepEqual(fns(calls), ['step', 'continueLater']);
  });
});

describe('sender auth on: what is exempt, and only that', () => {
  it('/webhook is exempt from sender auth: signed, no bearer => 200', async () => {
    const { app, calls, reviews } = setup();
    const res = await app.request('/webhook', signedWebhook({ command: 'reconcile' }));
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['step']);
    assert.deepEqual(reviews, []);
  });

  it('/webhook stays signed: unsigned with an allowed bearer token => 401', async () => {
    const { app, calls } = setup();
    const res = await app.request('/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...bearer(BROKER_TOKEN) },
      body: JSON.stringify({ command: 'reconcile' }),
    });
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('/kms-event/eventbridge is exempt (shared secret): right token, no bearer => 200', async () => {
    const { app, calls, reviews } = setup();
    const res = await app.request(
      '/kms-event/eventbridge',
      rawEventBridge({ [EVENTBRIDGE_TOKEN_HEADER]: EB_TOKEN }),
    );
    assert.equal(res.status, 200);
    assert.equal((await body(res)).outcome, 'rotation');
    assert.deepEqual(fns(calls), ['note', 'step']);
    assert.deepEqual(reviews, []);
  });

  it('/kms-event/eventbridge still needs its shared secret: an allowed bearer alone => 401', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', rawEventBridge(bearer(BROKER_TOKEN)));
    assert.equal(res.status, 401);
    const wrong = await app.request(
      '/kms-event/eventbridge',
      rawEventBridge({ [EVENTBRIDGE_TOKEN_HEADER]: 'wrong' }),
    );
    assert.equal(wrong.status, 401);
    assert.deepEqual(calls, []);
  });

  it('the exemption of /kms-event/eventbridge does not spill over to /kms-event', async () => {
    const { app, calls } = setup();
    const res = await app.request(
      '/kms-event',
      kmsEvent('structured', { [EVENTBRIDGE_TOKEN_HEADER]: EB_TOKEN }),
    );
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('the Azure OPTIONS handshake needs no token => 200 with WebHook-Allowed-Origin', async () => {
    const { app, reviews } = setup();
    const res = await app.request('/kms-event', {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), 'eventgrid.azure.net');
    assert.deepEqual(reviews, []);
  });

  it('probes need no token, and /readyz says sender authentication is on', async () => {
    const { app } = setup();
    assert.equal((await app.request('/healthz')).status, 200);
    assert.equal((await app.request('/metrics')).status, 200);
    const ready = await app.request('/readyz');
    assert.equal(ready.status, 200);
    const details = (await body(ready)).details as Json;
    assert.equal(details.senderAuthentication, 'on');
    assert.deepEqual(details.sender, { audience: AUDIENCE, allowedSenders: [BROKER] });
  });
});

describe('sender auth off', () => {
  it('/kms-event declared private accepts an event without a token, and /readyz says authentication is off', async () => {
    const calls: Call[] = [];
    const { app, lines } = testApp({
      unauthenticatedPaths: UNAUTHENTICATED_PATHS,
    });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'private',
      clear: async () => ({ cleared: [], stillActive: 0 }),
      note: async () => NOTED,
      danger: async () => ({}),
      step: fakeStep(calls),
    });
    const res = await app.request('/kms-event', kmsEvent('binary'));
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['step']);
    const details = (await body(await app.request('/readyz'))).details as Json;
    assert.equal(details.senderAuthentication, 'off');
    assert.ok(lines.some((l) => l.includes('sender authentication is off')));
  });
});
