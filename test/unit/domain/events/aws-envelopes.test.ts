// unwrapAwsCloudEvent / parseAwsCloudEvent: the EventBridge event inside TriggerMesh, EventBridge
// API destination and Knative aws-sqs CloudEvents (plain, JSON text, bytes, SNS fan-out); bodies
// that are not JSON or not an event are `{ error }`.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AWS_EVENTBRIDGE_CE_TYPE,
  AWS_SQS_CE_TYPE,
  parseAwsCloudEvent,
  unwrapAwsCloudEvent,
} from '../../../../shared/domain/events/aws.ts';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'),
  );
}

const CORE = new Set(['specversion', 'id', 'source', 'type', 'subject', 'time', 'data']);
const CORE_MORE = new Set(['datacontenttype', 'dataschema', 'data_base64']);

/** A structured-mode CloudEvent JSON as the parts the parsers read. */
function asCe(json: Json): { type: string; data: unknown; extensions: Json } {
  const extensions = Object.fromEntries(
    Object.entries(json).filter(([k]) => !CORE.has(k) && !CORE_MORE.has(k)),
  );
  return { type: String(json.type), data: json.data, extensions };
}

function errorOf(result: unknown): string {
  assert.ok(
    typeof result === 'object' && result !== null && 'error' in result,
    'expected an error',
  );
  return String(result.error);
}

const rotation = fixture('aws-cmk-rotation-on-demand.json');

describe('unwrapAwsCloudEvent', () => {
  it('takes the whole EventBridge event from a TriggerMesh CloudEvent', () => {
    const ce = asCe(fixture('ce-triggermesh-eventbridge.json'));
    assert.equal(ce.extensions.awseventssource, 'aws.kms');
    assert.deepEqual(unwrapAwsCloudEvent(ce), {
      event: fixture('aws-cmk-rotation-automatic.json'),
      envelope: 'triggermesh',
    });
  });

  it('takes the event from an API destination CloudEvent, as an object or JSON text', () => {
    for (const data of [rotation, JSON.stringify(rotation)]) {
      assert.deepEqual(unwrapAwsCloudEvent({ type: AWS_EVENTBRIDGE_CE_TYPE, data }), {
        event: rotation,
        envelope: 'api-destination',
      });
    }
  });

  it('takes the SQS body as an object, JSON text or bytes', () => {
    const ce = asCe(fixture('ce-knative-aws-sqs.json'));
    assert.deepEqual(unwrapAwsCloudEvent(ce), { event: rotation, envelope: 'sqs' });
    for (const data of [JSON.stringify(rotation), Buffer.from(JSON.stringify(rotation))]) {
      assert.deepEqual(unwrapAwsCloudEvent({ type: AWS_SQS_CE_TYPE, data }), {
        event: rotation,
        envelope: 'sqs',
      });
    }
  });

  it('opens an SNS notification in the SQS body', () => {
    const ce = asCe(fixture('ce-knative-aws-sqs-sns.json'));
    const sns = ce.data as { Message: string };
    const out = unwrapAwsCloudEvent(ce);
    assert.deepEqual(out, { event: JSON.parse(sns.Message), envelope: 'sqs-sns' });
    const asText = unwrapAwsCloudEvent({ type: AWS_SQS_CE_TYPE, data: JSON.stringify(sns) });
    assert.deepEqual(asText, out);
  });

  it('returns { error } for bodies that are not JSON or not an event', () => {
    const sns = fixture('ce-knative-aws-sqs-sns.json').data as Json;
    const cases: [{ type: string; data: unknown }, RegExp][] = [
      [{ type: AWS_SQS_CE_TYPE, data: 'hello from sqs' }, /SQS message body is not JSON/],
      [{ type: AWS_SQS_CE_TYPE, data: '{"truncated": ' }, /not JSON/],
      [{ type: AWS_SQS_CE_TYPE, data: '[1,2]' }, /not a JSON object/],
      [{ type: AWS_SQS_CE_TYPE, data: 17 }, /not a JSON object/],
      [{ type: AWS_SQS_CE_TYPE, data: undefined }, /not a JSON object/],
      [{ type: AWS_SQS_CE_TYPE, data: { ...sns, Message: undefined } }, /without a Message/],
      [{ type: AWS_SQS_CE_TYPE, data: { ...sns, Message: 'plain text' } }, /SNS Message/],
      [{ type: AWS_EVENTBRIDGE_CE_TYPE, data: [rotation] }, /not an EventBridge event/],
      [{ type: AWS_EVENTBRIDGE_CE_TYPE, data: 'not json' }, /not JSON/],
      [{ type: 'com.amazon.sqs.message', data: rotation }, /not an AWS event CloudEvent type/],
    ];
    for (const [ce, message] of cases) assert.match(errorOf(unwrapAwsCloudEvent(ce)), message);
  });
});

describe('parseAwsCloudEvent', () => {
  it('parses each Knative form to its trigger', () => {
    assert.deepEqual(parseAwsCloudEvent(asCe(fixture('ce-triggermesh-eventbridge.json'))), {
      kind: 'rotated',
      cloud: 'aws',
      key: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      newMaterialId: '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068',
      previousMaterialId: '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0',
      at: '2025-05-23T03:11:54.000Z',
      via: 'aws-eventbridge',
    });
    assert.deepEqual(parseAwsCloudEvent(asCe(fixture('ce-knative-aws-sqs-sns.json'))), {
      kind: 'danger',
      cloud: 'aws',
      key: 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      what: 'deletion-scheduled',
      at: '2025-02-21T09:29:40.000Z',
      via: 'aws-cloudtrail',
    });
  });

  it('passes an unwrapping error through and parses what is inside otherwise', () => {
    assert.match(errorOf(parseAwsCloudEvent({ type: AWS_SQS_CE_TYPE, data: 'x' })), /not JSON/);
    const s3 = { ...rotation, source: 'aws.s3' };
    const t = parseAwsCloudEvent({ type: AWS_SQS_CE_TYPE, data: s3 });
    assert.equal((t as { kind: string }).kind, 'unrelated');
    const broken = { ...rotation, detail: null };
    assert.match(errorOf(parseAwsCloudEvent({ type: AWS_SQS_CE_TYPE, data: broken })), /detail/);
  });
});
