// Contract tests of kms-event through app.request(): older and newer shapes of the event
// fixtures, with optional fields missing, still give the same answer.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cloudEventRequest,
  fixture,
  type Json,
  MODES,
} from '../../../support/unit/functions-fixtures.ts';
import {
  AWS_KEY,
  assertAnswer,
  CLOUD_EVENT_FIXTURES,
  type Expected,
  GCP_KEY,
  MATERIAL_AUTO,
  raw,
  setup,
} from '../../../support/unit/kms-event-harness.ts';

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
          cloud: 'aws',
          key: AWS_KEY,
          at: '2025-05-23T03:11:54.000Z',
          via: 'aws-eventbridge',
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
      {
        outcome: 'rotation',
        note: { cloud: 'aws', key: AWS_KEY, at: '2025-06-10T14:02:29.000Z', via: 'aws-cloudtrail' },
      },
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
        note: {
          cloud: 'gcp',
          key: GCP_KEY,
          at: '2025-03-03T08:00:09.000Z',
          via: 'gcp-audit-log',
          newMaterialId: '4',
        },
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
