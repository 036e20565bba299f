// Contract tests of /kms-event/eventgrid as Azure Event Grid delivers: the Event Grid schema (a
// JSON array, application/json) with its subscription-validation handshake, and the CloudEvents
// 1.0 schema (one structured event, after the OPTIONS abuse-protection handshake).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TOKEN_HEADER } from '../../../../functions/kms-event/route.ts';
import { MAX_EVENT_GRID_BATCH } from '../../../../shared/domain/events/event-grid.ts';
import {
  cloudEventRequest,
  fixture,
  fns,
  type Json,
} from '../../../support/unit/functions-fixtures.ts';
import {
  AZURE_KEY,
  GRID_TOKEN,
  json,
  STEP,
  setup,
} from '../../../support/unit/kms-event-harness.ts';

const PATH = '/kms-event/eventgrid';
const EXPIRED = {
  key: AZURE_KEY,
  what: 'material-expired',
  at: '2025-09-30T00:00:12.193Z',
  via: 'azure-event-grid',
  version: '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31',
};

function post(body: unknown, headers: Record<string, string> = { [TOKEN_HEADER]: GRID_TOKEN }) {
  return {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'aeg-event-type': 'Notification', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

const events = () => fixture('eventgrid-key-expired.json') as unknown as Json[];
const validation = () => fixture('eventgrid-subscription-validation.json') as unknown as Json[];
const VALIDATION = { 'aeg-event-type': 'SubscriptionValidation' };

describe('kms-event: Event Grid schema on /kms-event/eventgrid', () => {
  it('a KeyExpired delivery (a JSON array) => 200, the danger recorded, one step', async () => {
    const { app, calls } = setup();
    const res = await app.request(PATH, post(events()));
    const body = await json(res);
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(calls, [{ fn: 'danger', arg: EXPIRED }, { fn: 'step' }]);
    assert.deepEqual(body.step, STEP);
    const [first] = body.results as Json[];
    assert.equal(first?.outcome, 'danger');
    assert.equal(first?.id, '2d1781af-3a4c-4d7c-bd0c-e34b19da4e66');
  });

  it('several events in one delivery: each noted in order, then one step', async () => {
    const { app, calls } = setup();
    const [ev] = events();
    const second = { ...ev, id: 'two', eventType: 'Microsoft.KeyVault.KeyNewVersionCreated' };
    const third = { ...ev, id: 'three', eventType: 'Microsoft.KeyVault.SecretNewVersionCreated' };
    const res = await app.request(PATH, post([ev, second, third]));
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['danger', 'note', 'step']);
    const outcomes = ((await json(res)).results as Json[]).map((r) => [r.id, r.outcome]);
    assert.deepEqual(outcomes, [
      ['2d1781af-3a4c-4d7c-bd0c-e34b19da4e66', 'danger'],
      ['two', 'rotation'],
      ['three', 'ignored'],
    ]);
  });

  it('the subscription validation handshake echoes the code, and changes nothing', async () => {
    const code = '512d38b6-c7b8-40c8-89fe-f46f9e9622b6';
    for (const headers of [{ ...VALIDATION, [TOKEN_HEADER]: GRID_TOKEN }, VALIDATION]) {
      const { app, calls } = setup();
      const res = await app.request(PATH, post(validation(), headers));
      assert.equal(res.status, 200);
      assert.deepEqual(await json(res), { validationResponse: code });
      assert.deepEqual(calls, []);
    }
  });

  it('without the token, a validation request answers only the handshake', async () => {
    const { app, calls } = setup();
    const mixed = [...validation(), ...events()];
    const res = await app.request(PATH, post(mixed, VALIDATION));
    assert.equal(res.status, 200);
    assert.deepEqual(Object.keys(await json(res)), ['validationResponse']);
    const forged = await app.request(PATH, post(events(), VALIDATION));
    assert.equal(forged.status, 401, 'no validation event: the token is required');
    assert.deepEqual(calls, []);
  });

  it('without the token and not a validation request => 401', async () => {
    const { app, calls } = setup();
    const res = await app.request(PATH, post(validation(), {}));
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('no token configured: even the validation handshake => 401', async () => {
    const { app } = setup({ eventGridToken: null });
    const res = await app.request(PATH, post(validation(), VALIDATION));
    assert.equal(res.status, 401);
  });

  it('a malformed event next to a good one: the good one is handled, the bad one reported', async () => {
    const { app, calls } = setup();
    const res = await app.request(PATH, post([{ id: 'bad' }, ...events()]));
    assert.equal(res.status, 200);
    const results = (await json(res)).results as Json[];
    assert.equal(results[0]?.outcome, 'rejected');
    assert.equal(typeof results[0]?.error, 'string');
    assert.equal(results[1]?.outcome, 'danger');
    assert.deepEqual(fns(calls), ['danger', 'step']);
  });

  for (const [what, body, status] of [
    ['only malformed events', [{ id: 'x' }, 3], 422],
    ['a single object instead of an array', events()[0], 422],
    ['an empty array', [], 422],
    ['a body that is not JSON', '[{', 400],
    [
      `more than ${MAX_EVENT_GRID_BATCH} events`,
      Array(MAX_EVENT_GRID_BATCH + 1).fill(events()[0]),
      413,
    ],
  ] as const) {
    it(`${what} => ${status}, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request(PATH, post(body));
      assert.equal(res.status, status);
      assert.deepEqual(calls, []);
    });
  }
});

describe('kms-event: CloudEvents 1.0 schema on /kms-event/eventgrid', () => {
  it('OPTIONS abuse-protection handshake => 200 allowing the origin', async () => {
    const { app, calls } = setup();
    const res = await app.request(PATH, {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), 'eventgrid.azure.net');
    assert.deepEqual(calls, []);
  });

  it('a structured Key Vault CloudEvent with the token => 200 rotation', async () => {
    const { app, calls } = setup();
    const res = await app.request(
      PATH,
      cloudEventRequest(fixture('azure-key-new-version.json'), 'structured', {
        [TOKEN_HEADER]: GRID_TOKEN,
      }),
    );
    assert.equal(res.status, 200);
    assert.equal((await json(res)).outcome, 'rotation');
    assert.deepEqual(fns(calls), ['note', 'step']);
  });

  it('a CloudEvent that is not a Key Vault event => 422, nothing runs', async () => {
    const { app, calls } = setup();
    const res = await app.request(
      PATH,
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'structured', {
        [TOKEN_HEADER]: GRID_TOKEN,
      }),
    );
    assert.equal(res.status, 422);
    assert.deepEqual(calls, []);
  });
});
