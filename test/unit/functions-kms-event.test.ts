// Contract tests of the kms-event function through app.request(): every KMS event fixture as a
// CloudEvent on /kms-event (binary and structured mode) and every raw EventBridge fixture on
// /kms-event/eventbridge (shared-secret header), with recording fake deps. Asserted: the exact
// status, the body's `outcome`, and which of note()/danger()/step() ran, in what order, with what.
// Also: events for another key, malformed input (400/422, never 5xx/404/409), non-CloudEvents
// (415), the shared secret (401), the Azure Event Grid handshake, and step() failures (503/500).

import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { KmsEventDeps } from '../../functions/kms-event/handler.ts';
import { EVENTBRIDGE_TOKEN_HEADER, mountKmsEvent } from '../../functions/kms-event/route.ts';
import type { NoteResult } from '../../shared/core/note-kms-rotation.ts';
import type { StepOutcome } from '../../shared/core/reconcile-step.ts';
import type { KmsRotation } from '../../shared/domain/hidden-rotation.ts';
import type { KeyDangerNote } from '../../shared/domain/revision.ts';
import { TransientError } from '../../shared/http/errors.ts';
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
  stepOutcome,
  testApp,
} from './functions-fixtures.ts';

const TOKEN = 'eb-shared-secret-0123456789abcdef';
const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const AWS_KEY_EU = 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321';
const AWS_KEY_IMPORTED =
  'arn:aws:kms:eu-central-1:111122223333:key/5a6b7c8d-1e2f-3a4b-5c6d-7e8f9a0b1c2d';
const OTHER_AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/ffffffff-0000-1111-2222-333333333333';
const GCP_KEY =
  'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/etcd-kek';
const AZURE_KEY = 'https://kv-acme-etcd.vault.azure.net/keys/etcd-kek';
const MATERIAL_AUTO = '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068';
const MATERIAL_ON_DEMAND = 'c1f0a8e3b57d42d9e6a1b0c3f4d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d';

type Expected =
  | { outcome: 'rotation'; note: KmsRotation }
  | { outcome: 'danger'; danger: KeyDangerNote }
  | { outcome: 'reobserved' }
  | { outcome: 'ignored' };

/** Fixtures that are CloudEvents (TriggerMesh, Knative aws-sqs, SQS+SNS, Eventarc, Event Grid). */
const CLOUD_EVENT_FIXTURES: Record<string, Expected> = {
  'ce-triggermesh-eventbridge.json': {
    outcome: 'rotation',
    note: { keyArnOrName: AWS_KEY, at: '2025-05-23T03:11:54.000Z', newMaterialId: MATERIAL_AUTO },
  },
  'ce-knative-aws-sqs.json': {
    outcome: 'rotation',
    note: {
      keyArnOrName: AWS_KEY_EU,
      at: '2025-06-10T14:02:31.000Z',
      newMaterialId: MATERIAL_ON_DEMAND,
    },
  },
  'ce-knative-aws-sqs-sns.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY,
      what: 'deletion-scheduled',
      at: '2025-02-21T09:29:40.000Z',
      via: 'aws-cloudtrail',
    },
  },
  'gcp-create-version.json': {
    outcome: 'rotation',
    note: { keyArnOrName: GCP_KEY, at: '2025-03-03T08:00:01.234Z', newMaterialId: '4' },
  },
  'gcp-update-primary.json': {
    outcome: 'rotation',
    note: { keyArnOrName: GCP_KEY, at: '2025-03-03T08:00:02.051Z', newMaterialId: '4' },
  },
  'gcp-update-crypto-key.json': { outcome: 'reobserved' },
  'gcp-destroy-version.json': {
    outcome: 'danger',
    danger: {
      key: GCP_KEY,
      what: 'version-destroyed',
      at: '2025-04-11T10:05:17.000Z',
      via: 'gcp-audit-log',
    },
  },
  'azure-key-new-version.json': {
    outcome: 'rotation',
    note: {
      keyArnOrName: AZURE_KEY,
      at: '2025-03-14T09:26:53.541Z',
      newMaterialId: '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31',
    },
  },
};

/** Fixtures that are raw EventBridge events (an API destination posts them as they are). */
const RAW_FIXTURES: Record<string, Expected> = {
  'aws-cloudtrail-enable-key-rotation.json': { outcome: 'reobserved' },
  'aws-cloudtrail-rotate-key-on-demand.json': {
    outcome: 'rotation',
    note: { keyArnOrName: AWS_KEY, at: '2025-06-10T14:02:28.000Z' },
  },
  'aws-cloudtrail-rotate-key-service-event.json': {
    outcome: 'rotation',
    note: { keyArnOrName: AWS_KEY, at: '2025-07-18T01:41:59.000Z' },
  },
  'aws-cmk-deletion.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY,
      what: 'deleted',
      at: '2025-02-28T09:30:00.000Z',
      via: 'aws-eventbridge',
    },
  },
  'aws-cmk-rotation-automatic.json': {
    outcome: 'rotation',
    note: { keyArnOrName: AWS_KEY, at: '2025-05-23T03:11:54.000Z', newMaterialId: MATERIAL_AUTO },
  },
  'aws-cmk-rotation-legacy.json': {
    outcome: 'rotation',
    note: { keyArnOrName: AWS_KEY, at: '2022-11-02T17:45:12.000Z' },
  },
  'aws-cmk-rotation-on-demand.json': {
    outcome: 'rotation',
    note: {
      keyArnOrName: AWS_KEY_EU,
      at: '2025-06-10T14:02:31.000Z',
      newMaterialId: MATERIAL_ON_DEMAND,
    },
  },
  'aws-imported-material-expiration.json': {
    outcome: 'danger',
    danger: {
      key: AWS_KEY_IMPORTED,
      what: 'material-expired',
      at: '2025-04-01T00:00:07.000Z',
      via: 'aws-eventbridge',
    },
  },
};

const STEP = stepOutcome({ kind: 'migrate' }, true);

interface Setup {
  kmsKey?: string;
  eventBridgeToken?: string | null;
  note?: NoteResult;
  danger?: { revision?: string };
  step?: () => StepOutcome;
}

function setup({ kmsKey, eventBridgeToken = TOKEN, note = NOTED, danger, step }: Setup = {}) {
  const calls: Call[] = [];
  const deps: KmsEventDeps & { eventBridgeToken?: string } = {
    provider: 'aws-kms',
    ...(kmsKey === undefined ? {} : { kmsKey }),
    ...(eventBridgeToken === null ? {} : { eventBridgeToken }),
    note: async (rotation) => {
      calls.push({ fn: 'note', arg: rotation });
      return note;
    },
    danger: async (d) => {
      calls.push({ fn: 'danger', arg: d });
      return danger ?? { revision: 'encryption-key-aws-kms-3' };
    },
    step: fakeStep(calls, step ?? STEP),
  };
  const { app, lines } = testApp({ name: 'kms-event' });
  mountKmsEvent(app, deps);
  return { app, calls, lines };
}

/** A raw EventBridge POST; `token: null` sends no token header. */
function raw(body: string | Json, token: string | null = TOKEN) {
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { [EVENTBRIDGE_TOKEN_HEADER]: token }),
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** A raw EventBridge event wrapped as an EventBridge API destination CloudEvent. */
function apiDestination(ev: Json): Json {
  return cloudEvent('com.amazon.events.event', ev, {
    id: String(ev.id),
    source: 'arn:aws:events:us-west-2:111122223333:api-destination/rekey',
  });
}

async function json(res: Response): Promise<Json> {
  return (await res.json()) as Json;
}

/** The response matches `expected` and exactly the expected calls were made. */
async function assertAnswer(res: Response, calls: Call[], expected: Expected, what: string) {
  const body = await json(res);
  assert.equal(res.status, 200, `${what}: ${JSON.stringify(body)}`);
  assert.equal(body.outcome, expected.outcome, what);
  if (expected.outcome === 'ignored') {
    assert.deepEqual(calls, [], what);
    assert.equal(typeof body.reason, 'string', what);
    return;
  }
  assert.deepEqual(body.step, STEP, `${what}: the step outcome is returned`);
  if (expected.outcome === 'rotation') {
    assert.deepEqual(calls, [{ fn: 'note', arg: expected.note }, { fn: 'step' }], what);
    assert.equal(body.verdict, 'key-id-changed', what);
    assert.equal(body.explanation, NOTED.assessment?.explanation, what);
  } else if (expected.outcome === 'danger') {
    assert.deepEqual(calls, [{ fn: 'danger', arg: expected.danger }, { fn: 'step' }], what);
    assert.equal(body.revision, 'encryption-key-aws-kms-3', what);
  } else {
    assert.deepEqual(fns(calls), ['step'], what);
  }
}

describe('kms-event: every fixture', () => {
  it('covers every KMS fixture file in test/fixtures/events', () => {
    const files = readdirSync(new URL('../fixtures/events/', import.meta.url)).filter(
      (f) => f.endsWith('.json') && !f.startsWith('apiserversource-'),
    );
    assert.deepEqual(
      files.sort(),
      [...Object.keys(CLOUD_EVENT_FIXTURES), ...Object.keys(RAW_FIXTURES)].sort(),
    );
  });

  for (const [file, expected] of Object.entries(CLOUD_EVENT_FIXTURES)) {
    for (const mode of MODES) {
      it(`${file} in ${mode} mode on /kms-event => 200 ${expected.outcome}`, async () => {
        const { app, calls } = setup();
        const res = await app.request('/kms-event', cloudEventRequest(fixture(file), mode));
        await assertAnswer(res, calls, expected, `${file} ${mode}`);
      });
    }
  }

  for (const [file, expected] of Object.entries(RAW_FIXTURES)) {
    it(`${file} raw on /kms-event/eventbridge with the token => 200 ${expected.outcome}`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event/eventbridge', raw(fixture(file)));
      await assertAnswer(res, calls, expected, file);
    });
    for (const mode of MODES) {
      it(`${file} as an API destination CloudEvent (${mode}) on /kms-event => ${expected.outcome}`, async () => {
        const { app, calls } = setup();
        const res = await app.request(
          '/kms-event',
          cloudEventRequest(apiDestination(fixture(file)), mode),
        );
        await assertAnswer(res, calls, expected, `${file} api-destination ${mode}`);
      });
    }
  }

  it('a TriggerMesh CloudEvent in binary mode carries the awseventssource extension as ce-*', () => {
    const req = cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary');
    assert.equal(req.headers['ce-awseventssource'], 'aws.kms');
    assert.equal(req.headers['ce-type'], 'com.amazon.events.event');
    assert.equal(req.headers['content-type'], 'application/json');
  });
});

describe('kms-event: older and newer shapes, optional fields missing', () => {
  it('KMS CMK Rotation without rotation-type and previous material (the 2024 shape)', async () => {
    const ev = fixture('aws-cmk-rotation-automatic.json');
    const detail = ev.detail as Json;
    delete detail['rotation-type'];
    delete detail['previous-key-material-id'];
    delete detail['key-origin'];
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    await assertAnswer(
      res,
      calls,
      {
        outcome: 'rotation',
        note: {
          keyArnOrName: AWS_KEY,
          at: '2025-05-23T03:11:54.000Z',
          newMaterialId: MATERIAL_AUTO,
        },
      },
      'no rotation-type',
    );
  });

  it('a native event without resources builds the ARN from region, account and key-id', async () => {
    const ev = fixture('aws-cmk-deletion.json');
    ev.resources = [];
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    await assertAnswer(
      res,
      calls,
      {
        outcome: 'danger',
        danger: {
          key: AWS_KEY,
          what: 'deleted',
          at: '2025-02-28T09:30:00.000Z',
          via: 'aws-eventbridge',
        },
      },
      'no resources',
    );
  });

  it('a native event with neither resources nor region is malformed (422), nothing runs', async () => {
    const ev = fixture('aws-cmk-deletion.json');
    delete ev.resources;
    delete ev.region;
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    assert.equal(res.status, 422);
    assert.deepEqual(calls, []);
  });

  it('a CloudTrail record without eventTime takes the EventBridge time', async () => {
    const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
    delete (ev.detail as Json).eventTime;
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    await assertAnswer(
      res,
      calls,
      { outcome: 'rotation', note: { keyArnOrName: AWS_KEY, at: '2025-06-10T14:02:29.000Z' } },
      'no eventTime',
    );
  });

  it('an Azure event without NBF/EXP still counts', async () => {
    const ev = fixture('azure-key-new-version.json');
    const data = ev.data as Json;
    delete data.NBF;
    delete data.EXP;
    for (const mode of MODES) {
      const { app, calls } = setup();
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      await assertAnswer(
        res,
        calls,
        CLOUD_EVENT_FIXTURES['azure-key-new-version.json'] as Expected,
        mode,
      );
    }
  });

  it('a GCP event whose protoPayload lacks method and resource falls back to the extensions', async () => {
    const ev = fixture('gcp-destroy-version.json');
    const p = (ev.data as Json).protoPayload as Json;
    delete p.methodName;
    delete p.resourceName;
    for (const mode of MODES) {
      const { app, calls } = setup();
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      await assertAnswer(
        res,
        calls,
        CLOUD_EVENT_FIXTURES['gcp-destroy-version.json'] as Expected,
        mode,
      );
    }
  });

  it('a GCP event without data.timestamp takes the CloudEvent time', async () => {
    const ev = fixture('gcp-update-primary.json');
    delete (ev.data as Json).timestamp;
    ev.time = '2025-03-03T08:00:09Z';
    const { app, calls } = setup();
    const res = await app.request('/kms-event', cloudEventRequest(ev, 'binary'));
    await assertAnswer(
      res,
      calls,
      {
        outcome: 'rotation',
        note: { keyArnOrName: GCP_KEY, at: '2025-03-03T08:00:09.000Z', newMaterialId: '4' },
      },
      'no timestamp',
    );
  });

  it('an SQS message body sent as a JSON string (text/plain) is unwrapped too', async () => {
    const ev = fixture('ce-knative-aws-sqs.json');
    ev.data = JSON.stringify(ev.data);
    ev.datacontenttype = 'text/plain';
    for (const mode of MODES) {
      const { app, calls } = setup();
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      await assertAnswer(
        res,
        calls,
        CLOUD_EVENT_FIXTURES['ce-knative-aws-sqs.json'] as Expected,
        mode,
      );
    }
  });
});

describe('kms-event: outcomes besides rotation and danger', () => {
  const ignoredCloudEvents: [string, Json][] = [
    [
      'an Azure secret event',
      (() => {
        const ev = fixture('azure-key-new-version.json');
        ev.type = 'Microsoft.KeyVault.SecretNewVersionCreated';
        return ev;
      })(),
    ],
    [
      'a GCP audit log of another service',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).serviceName = 'storage.googleapis.com';
        return ev;
      })(),
    ],
    [
      'a failed GCP call',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).status = { code: 7, message: 'denied' };
        return ev;
      })(),
    ],
    [
      'a GCP KMS read (GetCryptoKey)',
      (() => {
        const ev = fixture('gcp-create-version.json');
        ((ev.data as Json).protoPayload as Json).methodName = 'GetCryptoKey';
        return ev;
      })(),
    ],
  ];
  for (const [what, ev] of ignoredCloudEvents) {
    it(`${what} => 200 ignored, nothing runs`, async () => {
      for (const mode of MODES) {
        const { app, calls } = setup();
        const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
        await assertAnswer(res, calls, { outcome: 'ignored' }, `${what} ${mode}`);
      }
    });
  }

  const ignoredRaw: [string, Json][] = [
    [
      'an EventBridge event of another service',
      { ...fixture('aws-cmk-rotation-automatic.json'), source: 'aws.ec2' },
    ],
    [
      'a KMS event that is not about rotation',
      {
        ...fixture('aws-cmk-rotation-automatic.json'),
        'detail-type': 'KMS Custom Key Store Event',
      },
    ],
    [
      'a failed CloudTrail call',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).errorCode = 'AccessDeniedException';
        return ev;
      })(),
    ],
    [
      'a CloudTrail Encrypt call',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).eventName = 'Encrypt';
        return ev;
      })(),
    ],
    [
      'a CloudTrail eventName that is an Object prototype key',
      (() => {
        const ev = fixture('aws-cloudtrail-rotate-key-on-demand.json');
        (ev.detail as Json).eventName = 'constructor';
        return ev;
      })(),
    ],
  ];
  for (const [what, ev] of ignoredRaw) {
    it(`${what} => 200 ignored on both routes, nothing runs`, async () => {
      const a = setup();
      await assertAnswer(
        await a.app.request('/kms-event/eventbridge', raw(ev)),
        a.calls,
        { outcome: 'ignored' },
        `${what} raw`,
      );
      const b = setup();
      await assertAnswer(
        await b.app.request('/kms-event', cloudEventRequest(apiDestination(ev), 'structured')),
        b.calls,
        { outcome: 'ignored' },
        `${what} CloudEvent`,
      );
    });
  }

  it('a rotation already noted says why it was not recorded, and still runs a step', async () => {
    const { app, calls } = setup({
      note: { recorded: false, reason: 'duplicate: this rotation is already recorded' },
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.deepEqual(body, {
      outcome: 'rotation',
      reason: 'duplicate: this rotation is already recorded',
      step: STEP,
    });
    assert.deepEqual(fns(calls), ['note', 'step']);
  });

  it('the same rotation delivered twice runs note+step twice (the core makes it idempotent)', async () => {
    const { app, calls } = setup();
    const ev = fixture('ce-triggermesh-eventbridge.json');
    for (let i = 0; i < 2; i++) {
      const res = await app.request('/kms-event', cloudEventRequest(ev, 'binary'));
      assert.equal(res.status, 200);
    }
    assert.deepEqual(fns(calls), ['note', 'step', 'note', 'step']);
  });

  it('a step that finds the lock busy is still a 200 (the holder does the work)', async () => {
    const busy: StepOutcome = { kind: 'busy', provider: 'aws-kms', heldBy: 'rekey-reconcile-1' };
    const { app, calls } = setup({ step: () => busy });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('gcp-update-crypto-key.json'), 'structured'),
    );
    assert.equal(res.status, 200);
    assert.deepEqual(await json(res), { outcome: 'reobserved', step: busy });
    assert.deepEqual(fns(calls), ['step']);
  });
});

describe('kms-event: an event for another key', () => {
  const notIgnored = [
    ...Object.entries(CLOUD_EVENT_FIXTURES).map(([f, e]) => ({ f, e, raw: false })),
    ...Object.entries(RAW_FIXTURES).map(([f, e]) => ({ f, e, raw: true })),
  ];
  const otherKey: Record<string, string> = {
    aws: OTHER_AWS_KEY,
    gcp: 'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/other-kek',
    azure: 'https://kv-acme-etcd.vault.azure.net/keys/other-kek',
  };
  for (const { f, raw: isRaw } of notIgnored) {
    const cloud = f.startsWith('gcp') ? 'gcp' : f.startsWith('azure') ? 'azure' : 'aws';
    it(`${f} with REKEY_KMS_KEY naming another ${cloud} key => 200 unrelated, no note/danger/step`, async () => {
      const { app, calls } = setup({ kmsKey: otherKey[cloud] as string });
      const res = isRaw
        ? await app.request('/kms-event/eventbridge', raw(fixture(f)))
        : await app.request('/kms-event', cloudEventRequest(fixture(f), 'structured'));
      const body = await json(res);
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.equal(body.outcome, 'unrelated');
      assert.match(String(body.reason), /nothing to do/);
      assert.equal(body.step, undefined);
      assert.deepEqual(calls, []);
    });
  }

  const sameKeyForms: [string, string, string][] = [
    [
      'the AWS key id without ARN',
      'aws-cmk-rotation-automatic.json',
      '1234abcd-12ab-34cd-56ef-1234567890ab',
    ],
    [
      'the AWS ARN in upper case hex',
      'aws-cmk-rotation-automatic.json',
      AWS_KEY.toUpperCase()
        .replace('ARN:AWS:KMS:US-WEST-2', 'arn:aws:kms:us-west-2')
        .replace(':KEY/', ':key/'),
    ],
    ['a GCP key version name', 'gcp-create-version.json', `${GCP_KEY}/cryptoKeyVersions/1`],
    [
      'the Azure key id with a trailing slash, other case',
      'azure-key-new-version.json',
      'https://KV-ACME-ETCD.vault.azure.net/keys/etcd-kek/',
    ],
  ];
  for (const [what, f, kmsKey] of sameKeyForms) {
    it(`REKEY_KMS_KEY as ${what} still matches the event's key`, async () => {
      const { app, calls } = setup({ kmsKey });
      const res = f.startsWith('aws-')
        ? await app.request('/kms-event/eventbridge', raw(fixture(f)))
        : await app.request('/kms-event', cloudEventRequest(fixture(f), 'binary'));
      const body = await json(res);
      assert.equal(res.status, 200);
      assert.equal(body.outcome, 'rotation', JSON.stringify(body));
      assert.deepEqual(fns(calls), ['note', 'step']);
    });
  }

  it('an ignored event stays ignored (not unrelated) whatever the configured key', async () => {
    const { app, calls } = setup({ kmsKey: OTHER_AWS_KEY });
    const ev = { ...fixture('aws-cmk-rotation-automatic.json'), source: 'aws.ec2' };
    const res = await app.request('/kms-event/eventbridge', raw(ev));
    assert.equal(res.status, 200);
    assert.equal((await json(res)).outcome, 'ignored');
    assert.deepEqual(calls, []);
  });
});

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
      eventBridgeToken: TOKEN,
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

describe('kms-event: what is not a CloudEvent', () => {
  it('a raw EventBridge JSON on /kms-event (no ce-type, plain JSON) => 415 naming the raw path', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(fixture('aws-cmk-rotation-automatic.json')),
    });
    assert.equal(res.status, 415);
    const body = await json(res);
    assert.equal(body.error, 'unsupported_media_type');
    assert.match(String(body.message), /\/kms-event\/eventbridge/);
    assert.deepEqual(calls, []);
  });

  it('no content type and no ce-* headers => 415', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', { method: 'POST', body: 'hello' });
    assert.equal(res.status, 415);
    assert.deepEqual(calls, []);
  });

  it('GET /kms-event is not a route => 404 from the router, not a handler outcome', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event');
    assert.equal(res.status, 404);
    assert.deepEqual(calls, []);
  });
});

describe('kms-event: the shared secret of /kms-event/eventbridge', () => {
  const ev = () => fixture('aws-cmk-rotation-automatic.json');

  it('without the token header => 401, nothing runs', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev(), null));
    assert.equal(res.status, 401);
    assert.equal((await json(res)).error, 'unauthorized');
    assert.deepEqual(calls, []);
  });

  for (const [what, token] of [
    ['a wrong token', 'eb-shared-secret-0123456789abcdeX'],
    ['a prefix of the token', TOKEN.slice(0, 10)],
    ['the token with a suffix', `${TOKEN}0`],
    ['an empty token', ''],
  ] as const) {
    it(`with ${what} => 401, nothing runs`, async () => {
      const { app, calls } = setup();
      const res = await app.request('/kms-event/eventbridge', raw(ev(), token));
      assert.equal(res.status, 401);
      assert.deepEqual(calls, []);
    });
  }

  it('with eventBridgeToken not configured => 401 whatever is sent, saying why', async () => {
    const { app, calls } = setup({ eventBridgeToken: null });
    for (const token of [null, TOKEN, '']) {
      const res = await app.request('/kms-event/eventbridge', raw(ev(), token));
      assert.equal(res.status, 401);
      assert.match(String((await json(res)).message), /REKEY_EVENTBRIDGE_TOKEN is not set/);
    }
    assert.deepEqual(calls, []);
  });

  it('the token is checked before the body is parsed (a bad body without a token => 401)', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event/eventbridge', raw('{not json', 'wrong'));
    assert.equal(res.status, 401);
    assert.deepEqual(calls, []);
  });

  it('the error answer never contains the configured token', async () => {
    const { app } = setup();
    const res = await app.request('/kms-event/eventbridge', raw(ev(), 'wrong'));
    assert.ok(!(await res.text()).includes(TOKEN));
  });
});

describe('kms-event: the Azure Event Grid abuse-protection handshake', () => {
  it('OPTIONS with WebHook-Request-Origin => 200 allowing that origin', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'OPTIONS',
      headers: { 'WebHook-Request-Origin': 'eventgrid.azure.net' },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), 'eventgrid.azure.net');
    assert.equal(res.headers.get('WebHook-Allowed-Rate'), '*');
    assert.deepEqual(calls, []);
  });

  it('OPTIONS without the origin header => 400', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', { method: 'OPTIONS' });
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('WebHook-Allowed-Origin'), null);
    assert.match(String((await json(res)).message), /WebHook-Request-Origin/);
    assert.deepEqual(calls, []);
  });

  for (const origin of ['a b', 'evil.example, other.example', 'x/y', '   ']) {
    it(`OPTIONS with origin ${JSON.stringify(origin)} => 400, not echoed into a header`, async () => {
      const { app } = setup();
      const res = await app.request('/kms-event', {
        method: 'OPTIONS',
        headers: { 'WebHook-Request-Origin': origin },
      });
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('WebHook-Allowed-Origin'), null);
    });
  }
});

describe('kms-event: failures of the step map to Knative retry semantics', () => {
  it('a step that throws a TransientError => 503 with Retry-After (Knative retries)', async () => {
    const { app, calls } = setup({
      step: () => {
        throw new TransientError('reconcile step failed; it will be retried', {
          retryAfterSeconds: 10,
        });
      },
    });
    for (const [path, init] of [
      ['/kms-event', cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary')],
      ['/kms-event', cloudEventRequest(fixture('gcp-destroy-version.json'), 'structured')],
      ['/kms-event/eventbridge', raw(fixture('aws-cloudtrail-enable-key-rotation.json'))],
    ] as const) {
      const res = await app.request(path, init);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get('Retry-After'), '10');
      assert.equal((await json(res)).error, 'unavailable');
    }
    assert.deepEqual(fns(calls), ['note', 'step', 'danger', 'step', 'step']);
  });

  it('a step that throws a plain Error => 500 whose body says nothing internal', async () => {
    const secretDetail = 'connect ECONNREFUSED 10.0.0.7:2379 token=abc123';
    const { app, calls, lines } = setup({
      step: () => {
        throw new Error(secretDetail);
      },
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'structured'),
    );
    assert.equal(res.status, 500);
    const text = await res.text();
    assert.deepEqual(JSON.parse(text), { error: 'internal', message: 'internal error' });
    assert.ok(!text.includes('ECONNREFUSED'));
    assert.ok(!text.includes('abc123'));
    assert.equal(res.headers.get('Retry-After'), null);
    assert.deepEqual(fns(calls), ['note', 'step']);
    assert.ok(
      lines.some((l) => l.includes('request failed')),
      'the failure is logged for operators',
    );
  });

  it('a note() that throws a TransientError => 503 and no step runs', async () => {
    const calls: Call[] = [];
    const { app } = testApp({ name: 'kms-event' });
    mountKmsEvent(app, {
      provider: 'aws-kms',
      note: async (r) => {
        calls.push({ fn: 'note', arg: r });
        throw new TransientError('apiserver throttled', { status: 429, retryAfterSeconds: 3 });
      },
      danger: async () => ({}),
      step: fakeStep(calls),
    });
    const res = await app.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-knative-aws-sqs.json'), 'binary'),
    );
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('Retry-After'), '3');
    assert.deepEqual(fns(calls), ['note']);
  });
});

describe('kms-event: media types and optional attributes', () => {
  it('a structured CloudEvent with an upper-case media type is accepted (media types are case-insensitive)', async () => {
    const { app, calls } = setup();
    const res = await app.request('/kms-event', {
      method: 'POST',
      headers: { 'content-type': 'Application/CloudEvents+JSON' },
      body: JSON.stringify(fixture('ce-triggermesh-eventbridge.json')),
    });
    assert.equal(res.status, 200);
    assert.deepEqual(fns(calls), ['note', 'step']);
  });

  for (const mode of ['structured', 'binary'] as const) {
    it(`an Azure key event without a time attribute is refused (422), not dated "now" (${mode})`, async () => {
      const ev = fixture('azure-key-new-version.json');
      delete ev.time;
      const { app, calls } = setup();
      const res = await app.request('/kms-event', cloudEventRequest(ev, mode));
      assert.equal(res.status, 422);
      assert.deepEqual(calls, []);
    });
  }
});
