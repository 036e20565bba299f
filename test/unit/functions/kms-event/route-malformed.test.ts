// Contract tests of kms-event through app.request(): malformed input of every form is a
// permanent 400/422, never a 5xx, 404 or 409, and runs nothing.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mountKmsEvent } from '../../../../functions/kms-event/route.ts';
import {
  type Call,
  cloudEvent,
  cloudEventRequest,
  fakeStep,
  fixture,
  type Json,
  MODES,
  NOTED,
  testApp,
} from '../../../support/unit/functions-fixtures.ts';
import { GRID_TOKEN, json, raw, setup, TOKEN } from '../../../support/unit/kms-event-harness.ts';

describe('kms-event: malformed input is a permanent 400/422, never 5xx, 404 or 409', () => {
  const triggermesh = () => fixture('ce-triggermesh-eventbridge.json');
  const cases: [string, () => { path: string; init: RequestInit }, 400 | 422][] = [
    [
      'structured body that is not JSON',
      () => ({
        path: '/kms-event',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: '{"id":',
        },
      }),
      400,
    ],
    [
      'structured body that is a JSON array',
      () => ({
        path: '/kms-event',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: '[]',
        },
      }),
      400,
    ],
    [
      'structured event without id',
      () => {
        const ev = triggermesh();
        delete ev.id;
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      400,
    ],
    [
      'structured event without source',
      () => {
        const ev = triggermesh();
        delete ev.source;
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      400,
    ],
    [
      'structured event with an empty body',
      () => ({
        path: '/kms-event',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents+json' },
          body: '',
        },
      }),
      400,
    ],
    [
      'binary event without ce-source',
      () => {
        const init = cloudEventRequest(triggermesh(), 'binary');
        delete init.headers['ce-source'];
        return { path: '/kms-event', init };
      },
      400,
    ],
    [
      'binary event without ce-id',
      () => {
        const init = cloudEventRequest(triggermesh(), 'binary');
        delete init.headers['ce-id'];
        return { path: '/kms-event', init };
      },
      400,
    ],
    [
      'binary event with a JSON content type and a body that is not JSON',
      () => {
        const init = cloudEventRequest(triggermesh(), 'binary');
        init.body = '{"detail-type":';
        return { path: '/kms-event', init };
      },
      400,
    ],
    [
      'batch mode',
      () => ({
        path: '/kms-event',
        init: {
          method: 'POST',
          headers: { 'content-type': 'application/cloudevents-batch+json' },
          body: JSON.stringify([triggermesh(), triggermesh()]),
        },
      }),
      422,
    ],
    [
      'an event type kms-event does not take',
      () => ({
        path: '/kms-event',
        init: cloudEventRequest(cloudEvent('dev.knative.sources.ping', {}), 'binary'),
      }),
      422,
    ],
    [
      'a KMS CMK Rotation without detail.key-id',
      () => {
        const ev = triggermesh();
        (ev.data as Json).detail = {};
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      422,
    ],
    [
      'TriggerMesh data that is not JSON',
      () => {
        const ev = triggermesh();
        ev.data = 'not json at all';
        ev.datacontenttype = 'text/plain';
        return { path: '/kms-event', init: cloudEventRequest(ev, 'binary') };
      },
      422,
    ],
    [
      'an SNS notification without a Message',
      () => {
        const ev = fixture('ce-knative-aws-sqs-sns.json');
        delete (ev.data as Json).Message;
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      422,
    ],
    [
      'an Azure key event whose Id is not a key URL',
      () => {
        const ev = fixture('azure-key-new-version.json');
        (ev.data as Json).Id = 'https://kv-acme-etcd.vault.azure.net/secrets/x';
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      422,
    ],
    [
      'a GCP event whose resource is not a CryptoKey',
      () => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).resourceName = 'projects/p/locations/l/keyRings/r';
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      422,
    ],
    [
      'a GCP event without protoPayload',
      () => {
        const ev = fixture('gcp-create-version.json');
        delete (ev.data as Json).protoPayload;
        return { path: '/kms-event', init: cloudEventRequest(ev, 'structured') };
      },
      422,
    ],
    [
      'raw body that is not JSON',
      () => ({ path: '/kms-event/eventbridge', init: raw('{"version":') }),
      400,
    ],
    [
      'raw body that is a JSON array',
      () => ({ path: '/kms-event/eventbridge', init: raw('[]') }),
      422,
    ],
    [
      'raw body that is JSON null',
      () => ({ path: '/kms-event/eventbridge', init: raw('null') }),
      422,
    ],
    [
      'raw event without detail-type',
      () => {
        const ev = fixture('aws-cmk-rotation-automatic.json');
        delete ev['detail-type'];
        return { path: '/kms-event/eventbridge', init: raw(ev) };
      },
      422,
    ],
    [
      'raw event with an unreadable time',
      () => ({
        path: '/kms-event/eventbridge',
        init: raw({ ...fixture('aws-cmk-rotation-automatic.json'), time: 'yesterday' }),
      }),
      422,
    ],
  ];
  for (const [what, make, status] of cases) {
    it(`${what} => ${status}, nothing runs`, async () => {
      const { app, calls } = setup();
      const { path, init } = make();
      const res = await app.request(path, init);
      const body = await json(res);
      assert.equal(res.status, status, `${what}: ${JSON.stringify(body)}`);
      assert.equal(body.error, status === 400 ? 'bad_request' : 'unprocessable');
      assert.equal(typeof body.message, 'string');
      assert.deepEqual(calls, []);
    });
  }

  it('a body over the size limit => 413, nothing runs', async () => {
    const calls: Call[] = [];
    const { app } = testApp({ name: 'kms-event', maxBodyBytes: 1024 });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'private',
      eventBridgeToken: TOKEN,
      clear: async () => ({ cleared: [], stillActive: 0 }),
      note: async () => NOTED,
      danger: async () => ({}),
      step: fakeStep(calls),
    });
    const ev = fixture('ce-triggermesh-eventbridge.json');
    (ev.data as Json).padding = 'x'.repeat(4096);
    for (const mode of MODES) {
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      assert.equal(res.status, 413, mode);
    }
    const res = await app.request('/kms-event/eventbridge', raw(ev.data as Json));
    assert.equal(res.status, 413);
    assert.deepEqual(calls, []);
  });

  it('the error message does not echo a long hostile value back', async () => {
    const { app } = setup();
    const long = `evil.${'A'.repeat(5000)}`;
    const res = await app.request('/kms-event', cloudEventRequest(cloudEvent(long, {}), 'binary'));
    assert.equal(res.status, 422);
    const text = await res.text();
    assert.ok(!text.includes('A'.repeat(200)), 'the type is clipped in the message');
  });
});

describe('kms-event: whatever arrives on any path, no 5xx but 503 with Retry-After', () => {
  const JUNK: string[] = [
    '',
    'null',
    'true',
    '42',
    '"text"',
    '[]',
    '{}',
    '[null]',
    '[1,"a",true,null,{}]',
    '[[[[[]]]]]',
    JSON.stringify(Array(60).fill({ id: 1, eventType: 2 })),
    JSON.stringify([{ id: 'x', eventType: 'Microsoft.KeyVault.KeyExpired', eventTime: 'now' }]),
    JSON.stringify([
      { id: 'x', eventType: 'Microsoft.KeyVault.KeyExpired', eventTime: 5, data: [] },
    ]),
    JSON.stringify([
      {
        id: 'x',
        eventType: 'Microsoft.EventGrid.SubscriptionValidationEvent',
        eventTime: 't',
        data: { validationCode: 7 },
      },
    ]),
    JSON.stringify({ 'detail-type': 7, source: ['aws.kms'], time: {}, detail: 'x' }),
    JSON.stringify({
      ...fixture('aws-cloudtrail-disable-key.json'),
      detail: { eventSource: 'kms.amazonaws.com', eventName: 'DisableKey', requestParameters: 'x' },
    }),
    JSON.stringify({ __proto__: { polluted: true }, constructor: { prototype: 1 } }),
    `[${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}]`,
    '\u0000\uffff\ud800',
    JSON.stringify(['x'.repeat(200_000)]),
  ];
  const TYPES = [
    'application/json',
    'application/cloudevents+json',
    'text/plain',
    'application/cloudevents-batch+json',
  ];
  const PATHS: [string, Record<string, string>][] = [
    ['/kms-event', {}],
    [
      '/kms-event',
      {
        'ce-specversion': '1.0',
        'ce-id': '1',
        'ce-source': 's',
        'ce-type': 'Microsoft.KeyVault.KeyExpired',
      },
    ],
    ['/kms-event/eventbridge', { 'x-rekey-token': TOKEN }],
    ['/kms-event/eventgrid', { 'x-rekey-token': GRID_TOKEN }],
    ['/kms-event/eventgrid', { 'aeg-event-type': 'SubscriptionValidation' }],
  ];

  it('junk bodies of every type => 4xx (or 503 with Retry-After), never another 5xx', async () => {
    const { app } = setup();
    let n = 0;
    for (const [path, headers] of PATHS) {
      for (const type of TYPES) {
        for (const body of JUNK) {
          const res = await app.request(path, {
            method: 'POST',
            headers: { 'content-type': type, ...headers },
            body,
          });
          const where = `${path} ${JSON.stringify(headers)} ${type} ${body.slice(0, 60)}`;
          assert.ok(res.status < 500 || res.status === 503, `${res.status} ${where}`);
          if (res.status === 503) assert.ok(res.headers.get('Retry-After'), where);
          n++;
        }
      }
    }
    assert.equal(n, PATHS.length * TYPES.length * JUNK.length);
  });

  it('dependencies that fail with plain errors => 503 with Retry-After on every path', async () => {
    const boom = async (): Promise<never> => {
      throw new Error('store: conflict on encryption-key-aws-kms-3');
    };
    const { app } = testApp({ name: 'kms-event' });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      cloudEvents: 'private',
      eventBridgeToken: TOKEN,
      eventGridToken: GRID_TOKEN,
      note: boom,
      danger: boom,
      clear: boom,
      step: boom,
    });
    const requests: [string, RequestInit][] = [
      ['/kms-event', cloudEventRequest(fixture('ce-knative-aws-sqs-sns.json'), 'binary')],
      ['/kms-event', cloudEventRequest(fixture('gcp-enable-version.json'), 'structured')],
      ['/kms-event/eventbridge', raw(fixture('aws-cloudtrail-cancel-key-deletion.json'))],
      [
        '/kms-event/eventgrid',
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-rekey-token': GRID_TOKEN },
          body: JSON.stringify(fixture('eventgrid-key-expired.json')),
        },
      ],
    ];
    for (const [path, init] of requests) {
      const res = await app.request(path, init);
      assert.equal(res.status, 503, path);
      assert.ok(Number(res.headers.get('Retry-After')) > 0, path);
      assert.ok(!(await res.text()).includes('conflict'), 'no internals in the answer');
    }
  });
});
