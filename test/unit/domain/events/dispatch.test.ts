// classifyKmsCloudEvent: every CloudEvent fixture, received through the cloudevents SDK in
// structured and binary mode, routed to its exact trigger; unknown types rejected; and thousands of
// mutated fixtures that must each give a well-formed trigger or a short `{ error }`, never a throw.

import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { type CloudEvent, HTTP } from 'cloudevents';
import { parseApiServerSourceEvent } from '../../../../shared/domain/events/apiserver-source.ts';
import { parseAwsEvent } from '../../../../shared/domain/events/aws.ts';
import {
  classifyKmsCloudEvent,
  type KmsCloudEvent,
} from '../../../../shared/domain/events/dispatch.ts';
import { parseEventGridDelivery } from '../../../../shared/domain/events/event-grid.ts';

type Json = Record<string, unknown>;

const FIXTURES = new URL('../../../fixtures/events/', import.meta.url);

function fixture(name: string): Json {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}

const SDK_CORE = new Set(
  'id time type source specversion datacontenttype subject datacontentencoding dataschema data_base64 schemaurl data'.split(
    ' ',
  ),
);

/** A fixture as the kms-event function receives it: HTTP -> cloudevents SDK -> parser input. */
function receive(json: Json, mode: 'structured' | 'binary'): KmsCloudEvent {
  const body = JSON.stringify(json);
  const headers = { 'content-type': 'application/cloudevents+json' };
  let ev = HTTP.toEvent({ headers, body }) as CloudEvent<unknown>;
  assert.equal(ev.validate(), true);
  if (mode === 'binary') ev = HTTP.toEvent(HTTP.binary(ev)) as CloudEvent<unknown>;
  const extensions = Object.fromEntries(Object.entries(ev).filter(([k]) => !SDK_CORE.has(k)));
  return {
    type: ev.type,
    source: ev.source,
    ...(ev.time !== undefined ? { time: ev.time } : {}),
    data: ev.data,
    extensions,
  };
}

const AWS_ARN = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const GCP_KEY =
  'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/etcd-kek';
const aws = { cloud: 'aws', key: AWS_ARN };
const gcp = { cloud: 'gcp', key: GCP_KEY, via: 'gcp-audit-log' };

const EXPECTED: Record<string, Json> = {
  'ce-triggermesh-eventbridge.json': {
    kind: 'rotated',
    ...aws,
    newMaterialId: '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068',
    previousMaterialId: '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0',
    at: '2025-05-23T03:11:54.000Z',
    via: 'aws-eventbridge',
  },
  'ce-knative-aws-sqs.json': {
    kind: 'rotated',
    cloud: 'aws',
    key: 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321',
    newMaterialId: 'c1f0a8e3b57d42d9e6a1b0c3f4d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d',
    previousMaterialId: '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068',
    at: '2025-06-10T14:02:31.000Z',
    via: 'aws-eventbridge',
  },
  'ce-knative-aws-sqs-sns.json': {
    kind: 'danger',
    ...aws,
    what: 'deletion-scheduled',
    at: '2025-02-21T09:29:40.000Z',
    via: 'aws-cloudtrail',
  },
  'gcp-create-version.json': {
    kind: 'rotated',
    ...gcp,
    newMaterialId: '4',
    at: '2025-03-03T08:00:01.234Z',
  },
  'gcp-update-primary.json': {
    kind: 'rotated',
    ...gcp,
    newMaterialId: '4',
    at: '2025-03-03T08:00:02.051Z',
  },
  'gcp-update-crypto-key.json': { kind: 'config-changed', ...gcp, at: '2025-02-14T16:20:45.500Z' },
  'gcp-destroy-version.json': {
    kind: 'danger',
    ...gcp,
    what: 'version-destroyed',
    at: '2025-04-11T10:05:17.000Z',
    version: '2',
  },
  'azure-key-new-version.json': {
    kind: 'rotated',
    cloud: 'azure',
    key: 'https://kv-acme-etcd.vault.azure.net/keys/etcd-kek',
    newMaterialId: '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31',
    at: '2025-03-14T09:26:53.541Z',
    via: 'azure-event-grid',
  },
};

describe('classifyKmsCloudEvent', () => {
  for (const [name, expected] of Object.entries(EXPECTED)) {
    it(`routes ${name} in structured and binary mode`, () => {
      for (const mode of ['structured', 'binary'] as const) {
        assert.deepEqual(classifyKmsCloudEvent(receive(fixture(name), mode)), expected, mode);
      }
    });
  }

  it('rejects types it does not take, naming the accepted ones', () => {
    for (const type of ['dev.knative.apiserver.ref.update', 'dev.rekey.migration.slice', 'x']) {
      const r = classifyKmsCloudEvent({ type, data: {} });
      assert.ok('error' in r);
      assert.match(r.error, /^unsupported event type ".*"; accepted: com\.amazon\.events\.event/);
    }
    const resource = receive(fixture('apiserversource-resource-mode.json'), 'structured');
    assert.ok('error' in classifyKmsCloudEvent(resource));
    assert.deepEqual(classifyKmsCloudEvent({ type: '', data: {} }), {
      error: 'CloudEvent without a type',
    });
  });
});

// Every path in a JSON value, each replaced by each of these (undefined removes the member).
const ODD: unknown[] = [
  undefined,
  null,
  0,
  -1,
  '',
  'x',
  '{"a":',
  true,
  [],
  {},
  [null],
  { constructor: 1 },
];

function* mutations(value: unknown, path: (string | number)[] = []): Generator<unknown> {
  if (path.length > 7 || typeof value !== 'object' || value === null) return;
  for (const key of Object.keys(value)) {
    const child = (value as Json)[key];
    for (const odd of ODD) yield replaceAt(value, key, odd);
    for (const inner of mutations(child, [...path, key])) yield replaceAt(value, key, inner);
  }
}

function replaceAt(container: object, key: string, replacement: unknown): unknown {
  const copy: Json | unknown[] = Array.isArray(container) ? [...container] : { ...container };
  (copy as Json)[key] = replacement;
  return copy;
}

function assertWellFormed(result: Json, input: unknown): void {
  const where = JSON.stringify(input)?.slice(0, 200);
  if ('error' in result) {
    assert.equal(typeof result.error, 'string', where);
    assert.ok((result.error as string).length > 0 && (result.error as string).length < 400, where);
    return;
  }
  if (result.kind === 'unrelated') {
    assert.equal(typeof result.reason, 'string', where);
    return;
  }
  if (['revision-changed', 'report-changed', 'other'].includes(result.kind as string)) {
    assert.equal(typeof result.name, 'string', where);
    return;
  }
  assert.ok(
    ['rotated', 'danger', 'config-changed', 'cleared'].includes(result.kind as string),
    where,
  );
  if (result.kind === 'cleared') {
    assert.ok(Array.isArray(result.clears) && result.clears.length > 0, where);
    assert.equal(typeof result.by, 'string', where);
  }
  assert.ok(['aws', 'gcp', 'azure'].includes(result.cloud as string), where);
  assert.ok(typeof result.key === 'string' && result.key.length > 0, where);
  assert.equal(new Date(result.at as string).toISOString(), result.at, where);
}

describe('mutated fixtures never throw', () => {
  const files = readdirSync(FIXTURES).filter((f) => f.endsWith('.json'));
  it('covers every fixture', () => assert.equal(files.length, 27));
  for (const file of files) {
    it(`every mutation of ${file} gives a trigger or an error`, () => {
      const json = fixture(file);
      if (file.startsWith('eventgrid-')) {
        // an Event Grid schema delivery: an array, each event a validation or a trigger
        let count = 0;
        for (const mutated of [...mutations(json), json, {}, null, 'x', [1], []]) {
          const d = parseEventGridDelivery(mutated);
          if ('error' in d) assert.ok(d.status === 413 || d.status === 422);
          else {
            for (const item of d.items) {
              if ('validationCode' in item) assert.equal(typeof item.validationCode, 'string');
              else assertWellFormed(item.trigger as Json, mutated);
            }
          }
          count++;
        }
        assert.ok(count > 50, `only ${count} mutations`);
        return;
      }
      const parse = file.startsWith('aws-')
        ? (v: unknown) => parseAwsEvent(v) as Json
        : file.startsWith('apiserversource-')
          ? (v: unknown) => parseApiServerSourceEvent(asCe(v)) as unknown as Json
          : (v: unknown) => classifyKmsCloudEvent(asCe(v)) as Json;
      let count = 0;
      for (const mutated of mutations(json)) {
        assertWellFormed(parse(mutated), mutated);
        count++;
      }
      assert.ok(count > 50, `only ${count} mutations`);
    });
  }
});

/** Raw structured JSON (possibly mutated into a non-object) as parser input, extensions included. */
function asCe(v: unknown): KmsCloudEvent {
  const j = (typeof v === 'object' && v !== null ? v : {}) as Json;
  const extensions = Object.fromEntries(Object.entries(j).filter(([k]) => !SDK_CORE.has(k)));
  return {
    type: typeof j.type === 'string' ? j.type : '',
    ...(typeof j.time === 'string' ? { time: j.time } : {}),
    data: j.data,
    extensions,
  };
}
