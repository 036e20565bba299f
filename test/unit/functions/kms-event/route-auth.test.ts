// Contract tests of kms-event's sender authentication: every path it serves needs an
// authenticator (Knative sender identity or an explicit cluster-local declaration for CloudEvents,
// a shared secret for EventBridge and Event Grid); without one the path answers 401 before the
// body is read, and nothing runs.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountKmsEvent, TOKEN_HEADER } from '../../../../functions/kms-event/route.ts';
import { sameSecret } from '../../../../functions/kms-event/shared-secret.ts';
import { UNAUTHENTICATED_PATHS } from '../../../../shared/app/functions.ts';
import { createTokenReviewAuthenticator } from '../../../../shared/http/sender-auth.ts';
import {
  type Call,
  cloudEventRequest,
  fakeStep,
  fixture,
  fns,
  NOTED,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';
import {
  CLEARED,
  GRID_TOKEN,
  json,
  raw,
  setup,
  TOKEN,
} from '../../../support/unit/kms-event-harness.ts';

const danger = () => cloudEventRequest(fixture('ce-knative-aws-sqs-sns.json'), 'binary');
const grid = (body: unknown, headers: Record<string, string> = {}) => ({
  method: 'POST',
  headers: { 'content-type': 'application/json', ...headers },
  body: typeof body === 'string' ? body : JSON.stringify(body),
});

describe('kms-event: /kms-event without sender identity', () => {
  it('not declared private => 401 naming the settings, nothing runs', async () => {
    const { app, calls } = setup({ cloudEvents: 'none' });
    for (const mode of ['binary', 'structured'] as const) {
      const res = await app.request(
        '/kms-event',
        cloudEventRequest(fixture('ce-knative-aws-sqs-sns.json'), mode),
      );
      assert.equal(res.status, 401, mode);
      const body = await json(res);
      assert.equal(body.error, 'unauthorized');
      assert.match(String(body.message), /REKEY_SENDER_AUDIENCE/);
      assert.match(String(body.message), /REKEY_KMS_EVENT_PRIVATE/);
    }
    assert.deepEqual(calls, [], 'no danger recorded, no step');
  });

  it('refuses before reading the body: junk is 401, not 400', async () => {
    const { app, calls } = setup({ cloudEvents: 'none' });
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{"id":',
    });
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('declared private => taken without a token', async () => {
    const { app, calls } = setup({ cloudEvents: 'private' });
    const res = await app.request('/kms-event', danger());
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['danger', 'step']);
  });

  it('with sender identity on, the app checks the token first; the secret paths skip it', async () => {
    const calls: Call[] = [];
    const reviews: string[] = [];
    const auth = createTokenReviewAuthenticator({
      audience: 'rekey-kms-event',
      allowedSenders: ['system:serviceaccount:knative-eventing:mt-broker-filter'],
      reviewToken: async ({ token }) => {
        reviews.push(token);
        return { authenticated: false };
      },
    });
    const { app } = testApp({ auth, unauthenticatedPaths: UNAUTHENTICATED_PATHS });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'sender-identity',
      eventBridgeToken: TOKEN,
      eventGridToken: GRID_TOKEN,
      note: async () => NOTED,
      danger: async (d) => {
        calls.push({ fn: 'danger', arg: d });
        return {};
      },
      clear: async () => CLEARED,
      step: fakeStep(calls),
    });
    const forged = await app.request('/kms-event', danger());
    assert.equal(forged.status, 401, 'no bearer token');
    const grid200 = await app.request(
      '/kms-event/eventgrid',
      grid(fixture('eventgrid-key-expired.json'), { [TOKEN_HEADER]: GRID_TOKEN }),
    );
    assert.equal(grid200.status, 200, 'Event Grid authenticates with its secret, not a token');
    const eb = await app.request(
      '/kms-event/eventbridge',
      raw(fixture('aws-cloudtrail-disable-key.json')),
    );
    assert.equal(eb.status, 200);
    assert.deepEqual(reviews, [], 'no TokenReview for the secret paths');
    assert.deepEqual(fns(calls), ['danger', 'step', 'danger', 'step']);
  });
});

describe('kms-event: the shared secret of /kms-event/eventgrid', () => {
  const body = () => fixture('eventgrid-key-expired.json');

  it('not configured => 401 whatever is sent, saying which setting', async () => {
    const { app, calls } = setup({ eventGridToken: null });
    for (const headers of [
      {},
      { [TOKEN_HEADER]: GRID_TOKEN },
      { 'aeg-event-type': 'Notification' },
    ]) {
      const res = await app.request('/kms-event/eventgrid', grid(body(), headers));
      assert.equal(res.status, 401);
      assert.match(String((await json(res)).message), /REKEY_EVENTGRID_TOKEN is not set/);
    }
    assert.deepEqual(calls, []);
  });

  for (const [what, headers] of [
    ['no token', {}],
    ['the EventBridge token', { [TOKEN_HEADER]: TOKEN }],
    ['a prefix of the token', { [TOKEN_HEADER]: GRID_TOKEN.slice(0, 8) }],
    ['the token with a suffix', { [TOKEN_HEADER]: `${GRID_TOKEN}x` }],
    ['a huge token', { [TOKEN_HEADER]: 'x'.repeat(8000) }],
  ] as const) {
    it(`${what} => 401 before the body is read, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event/eventgrid', grid('[{"junk":', headers));
      assert.equal(res.status, 401);
      assert.ok(!(await res.text()).includes(GRID_TOKEN));
      assert.deepEqual(calls, []);
    });
  }

  it('a structured CloudEvent without the token => 401', async () => {
    const { app, calls } = setup();
    const res = await app.request(
      '/kms-event/eventgrid',
      cloudEventRequest(fixture('azure-key-new-version.json'), 'structured'),
    );
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });
});

describe('sameSecret', () => {
  it('equal only for the same string; any length compares without throwing', () => {
    assert.equal(sameSecret(TOKEN, TOKEN), true);
    for (const sent of [
      undefined,
      '',
      TOKEN.slice(0, -1),
      `${TOKEN}0`,
      'x'.repeat(5000),
      'é'.repeat(40),
    ]) {
      assert.equal(sameSecret(sent, TOKEN), false, String(sent).slice(0, 20));
    }
  });
});
