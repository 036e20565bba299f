// parseAwsEvent: every EventBridge fixture (native KMS events, CloudTrail records) to its exact
// trigger, key ARNs built when resources are missing, other services and operations `unrelated`,
// malformed events `{ error }` and never a throw.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseAwsEvent } from '../../../../shared/domain/events/aws.ts';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'),
  );
}

const KEY = '1234abcd-12ab-34cd-56ef-1234567890ab';
const ARN = `arn:aws:kms:us-west-2:111122223333:key/${KEY}`;

function errorOf(result: unknown): string {
  assert.ok(
    typeof result === 'object' && result !== null && 'error' in result,
    'expected an error',
  );
  assert.equal(typeof result.error, 'string');
  return String(result.error);
}

function withDetail(name: string, patch: Json, top: Json = {}): Json {
  const ev = fixture(name);
  return { ...ev, ...top, detail: { ...(ev.detail as Json), ...patch } };
}

describe('parseAwsEvent: native KMS events', () => {
  it('reads an automatic rotation with both material ids', () => {
    assert.deepEqual(parseAwsEvent(fixture('aws-cmk-rotation-automatic.json')), {
      kind: 'rotated',
      cloud: 'aws',
      key: ARN,
      newMaterialId: '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068',
      previousMaterialId: '123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0',
      at: '2025-05-23T03:11:54.000Z',
      via: 'aws-eventbridge',
    });
  });

  it('reads a legacy rotation that carries only key-id', () => {
    assert.deepEqual(parseAwsEvent(fixture('aws-cmk-rotation-legacy.json')), {
      kind: 'rotated',
      cloud: 'aws',
      key: ARN,
      at: '2022-11-02T17:45:12.000Z',
      via: 'aws-eventbridge',
    });
  });

  it('reads an on-demand rotation in another region', () => {
    assert.deepEqual(parseAwsEvent(fixture('aws-cmk-rotation-on-demand.json')), {
      kind: 'rotated',
      cloud: 'aws',
      key: 'arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321',
      newMaterialId: 'c1f0a8e3b57d42d9e6a1b0c3f4d5e6a7b8c9d0e1f2a3b4c5d6e7f8091a2b3c4d',
      previousMaterialId: '96083e4fb6dbc41d77578a213a6b6669c044dd4c143e96755396d2bf11fd6068',
      at: '2025-06-10T14:02:31.000Z',
      via: 'aws-eventbridge',
    });
  });

  it('reads a deletion and an imported material expiration as danger', () => {
    assert.deepEqual(parseAwsEvent(fixture('aws-cmk-deletion.json')), {
      kind: 'danger',
      cloud: 'aws',
      key: ARN,
      what: 'deleted',
      at: '2025-02-28T09:30:00.000Z',
      via: 'aws-eventbridge',
    });
    assert.deepEqual(parseAwsEvent(fixture('aws-imported-material-expiration.json')), {
      kind: 'danger',
      cloud: 'aws',
      key: 'arn:aws:kms:eu-central-1:111122223333:key/5a6b7c8d-1e2f-3a4b-5c6d-7e8f9a0b1c2d',
      what: 'material-expired',
      at: '2025-04-01T00:00:07.000Z',
      via: 'aws-eventbridge',
    });
  });

  it('builds the key ARN from region, account and key-id when resources are missing', () => {
    const ev = { ...fixture('aws-cmk-rotation-legacy.json'), resources: [] };
    assert.equal((parseAwsEvent(ev) as { key: string }).key, ARN);
    const cn = { ...ev, region: 'cn-north-1', resources: undefined };
    assert.equal(
      (parseAwsEvent(cn) as { key: string }).key,
      `arn:aws-cn:kms:cn-north-1:111122223333:key/${KEY}`,
    );
    assert.match(errorOf(parseAwsEvent({ ...ev, region: undefined })), /no key ARN/);
  });

  it('treats null optional fields as absent', () => {
    const ev = withDetail('aws-cmk-rotation-automatic.json', {
      'previous-key-material-id': null,
      'rotation-type': null,
    });
    const t = parseAwsEvent(ev);
    assert.ok('kind' in t && t.kind === 'rotated');
    assert.equal(t.previousMaterialId, undefined);
    assert.equal('previousMaterialId' in t, false);
  });
});

describe('parseAwsEvent: CloudTrail records', () => {
  it('reads RotateKeyOnDemand, EnableKeyRotation and the RotateKey service event', () => {
    const base = { cloud: 'aws', key: ARN, via: 'aws-cloudtrail' };
    assert.deepEqual(parseAwsEvent(fixture('aws-cloudtrail-rotate-key-on-demand.json')), {
      kind: 'rotated',
      ...base,
      at: '2025-06-10T14:02:28.000Z',
    });
    assert.deepEqual(parseAwsEvent(fixture('aws-cloudtrail-enable-key-rotation.json')), {
      kind: 'config-changed',
      ...base,
      at: '2025-01-20T11:15:02.000Z',
    });
    assert.deepEqual(parseAwsEvent(fixture('aws-cloudtrail-rotate-key-service-event.json')), {
      kind: 'rotated',
      ...base,
      at: '2025-07-18T01:41:59.000Z',
    });
  });

  it('maps the other key-state calls: dangers, and the calls that end them', () => {
    const names = [
      'DisableKeyRotation',
      'DisableKey',
      'EnableKey',
      'ScheduleKeyDeletion',
      'CancelKeyDeletion',
      'DeleteKey',
      'DeleteExpiredKeyMaterial',
      'DeleteImportedKeyMaterial',
      'ImportKeyMaterial',
    ];
    const kinds = Object.fromEntries(
      names.map((eventName) => {
        const t = parseAwsEvent(
          withDetail('aws-cloudtrail-enable-key-rotation.json', { eventName }),
        );
        if ('what' in t) return [eventName, `${t.kind}:${t.what}`];
        if ('clears' in t) {
          return [eventName, `cleared:${t.clears.join('+')}${t.leaves ? `>${t.leaves}` : ''}`];
        }
        return [eventName, 'kind' in t ? t.kind : 'error'];
      }),
    );
    assert.deepEqual(kinds, {
      DisableKeyRotation: 'config-changed',
      DisableKey: 'danger:disabled',
      EnableKey: 'cleared:disabled',
      ScheduleKeyDeletion: 'danger:deletion-scheduled',
      CancelKeyDeletion: 'cleared:deletion-scheduled>disabled',
      DeleteKey: 'danger:deleted',
      DeleteExpiredKeyMaterial: 'danger:material-expired',
      DeleteImportedKeyMaterial: 'danger:material-deleted',
      ImportKeyMaterial: 'cleared:material-expired+material-deleted',
    });
  });

  it('builds the key ARN from the key id when the record lists no resources', () => {
    const svc = withDetail('aws-cloudtrail-rotate-key-service-event.json', { resources: null });
    assert.equal((parseAwsEvent(svc) as { key: string }).key, ARN);
    const alias = withDetail('aws-cloudtrail-rotate-key-on-demand.json', {
      resources: [],
      responseElements: null,
      requestParameters: { keyId: 'alias/etcd-kek' },
    });
    assert.equal(
      (parseAwsEvent(alias) as { key: string }).key,
      'arn:aws:kms:us-west-2:111122223333:alias/etcd-kek',
    );
    const none = withDetail('aws-cloudtrail-rotate-key-on-demand.json', {
      resources: [],
      responseElements: null,
      requestParameters: null,
    });
    assert.match(errorOf(parseAwsEvent(none)), /no KMS key ARN/);
  });

  it('says unrelated for failed calls, other operations and other services', () => {
    const cases: Json[] = [
      { errorCode: 'AccessDeniedException' },
      { eventName: 'Decrypt' },
      { eventName: 'constructor' },
      { eventSource: 's3.amazonaws.com' },
    ];
    for (const patch of cases) {
      const t = parseAwsEvent(withDetail('aws-cloudtrail-rotate-key-on-demand.json', patch));
      assert.ok('kind' in t && t.kind === 'unrelated', JSON.stringify(patch));
      assert.ok(t.reason.length > 0);
    }
  });
});

describe('parseAwsEvent: unrelated and malformed', () => {
  it('says unrelated for other sources and non-rotation KMS events', () => {
    for (const top of [
      { source: 'aws.s3', 'detail-type': 'Object Created' },
      { 'detail-type': 'KMS Key Material Import' },
      { 'detail-type': 'toString' },
    ]) {
      const t = parseAwsEvent({ ...fixture('aws-cmk-deletion.json'), ...top });
      assert.deepEqual(Object.keys(t), ['kind', 'reason']);
      assert.equal((t as { kind: string }).kind, 'unrelated');
    }
  });

  it('returns { error } for malformed events, never throwing', () => {
    const ev = fixture('aws-cmk-rotation-automatic.json');
    const { detail: _detail, ...noDetail } = ev;
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/],
      ['{"source":"aws.kms"}', /JSON object/],
      [42, /JSON object/],
      [[ev], /JSON object/],
      [noDetail, /detail/],
      [{ ...ev, detail: 'rotated' }, /detail/],
      [{ ...ev, 'detail-type': 7 }, /detail-type/],
      [{ ...ev, source: undefined }, /source/],
      [{ ...ev, source: ['aws.kms'] }, /source/],
      [{ ...ev, time: 'yesterday' }, /time/],
      [{ ...ev, resources: ARN }, /resources/],
      [withDetail('aws-cmk-rotation-automatic.json', { 'key-id': undefined }), /key-id/],
      [withDetail('aws-cmk-rotation-automatic.json', { 'key-id': '' }), /key-id/],
      [withDetail('aws-cmk-rotation-automatic.json', { 'current-key-material-id': 5 }), /current/],
      [
        withDetail('aws-cloudtrail-enable-key-rotation.json', { eventName: undefined }),
        /eventName/,
      ],
      [withDetail('aws-cloudtrail-enable-key-rotation.json', { eventTime: 'now' }), /eventTime/],
    ];
    for (const [input, message] of cases) {
      assert.match(errorOf(parseAwsEvent(input)), message, JSON.stringify(input)?.slice(0, 80));
    }
  });
});
