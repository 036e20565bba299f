// parseGcpAuditEvent: every Eventarc Cloud KMS audit-log fixture to its exact trigger; short and
// full method names; service/method/resource from protoPayload or the extensions; failed calls and
// other services `unrelated`; malformed LogEntryData `{ error }`.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseGcpAuditEvent, splitCryptoKeyName } from '../../../../shared/domain/events/gcp.ts';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'),
  );
}

const EXTENSIONS = ['servicename', 'methodname', 'resourcename', 'recordedtime'];

function asCe(json: Json): { type: string; time?: string; data: unknown; extensions: Json } {
  const extensions = Object.fromEntries(EXTENSIONS.map((k) => [k, json[k]]));
  return { type: String(json.type), time: String(json.time), data: json.data, extensions };
}

/** The fixture with protoPayload fields replaced (undefined removes one) and data fields merged. */
function patched(name: string, proto: Json, data: Json = {}) {
  const ce = asCe(fixture(name));
  const d = ce.data as Json;
  const protoPayload = { ...(d.protoPayload as Json), ...proto };
  return { ...ce, data: { ...d, ...data, protoPayload } };
}

function errorOf(result: unknown): string {
  assert.ok(
    typeof result === 'object' && result !== null && 'error' in result,
    'expected an error',
  );
  return String(result.error);
}

const KEY =
  'projects/acme-platform-prod/locations/europe-west1/keyRings/k8s-etcd/cryptoKeys/etcd-kek';
const base = { cloud: 'gcp', key: KEY, via: 'gcp-audit-log' };

describe('parseGcpAuditEvent: fixtures', () => {
  it('reads CreateCryptoKeyVersion with the new version from the response', () => {
    assert.deepEqual(parseGcpAuditEvent(asCe(fixture('gcp-create-version.json'))), {
      kind: 'rotated',
      ...base,
      newMaterialId: '4',
      at: '2025-03-03T08:00:01.234Z',
    });
  });

  it('reads UpdateCryptoKeyPrimaryVersion under its full method name', () => {
    assert.deepEqual(parseGcpAuditEvent(asCe(fixture('gcp-update-primary.json'))), {
      kind: 'rotated',
      ...base,
      newMaterialId: '4',
      at: '2025-03-03T08:00:02.051Z',
    });
  });

  it('reads UpdateCryptoKey as config-changed and DestroyCryptoKeyVersion as danger', () => {
    assert.deepEqual(parseGcpAuditEvent(asCe(fixture('gcp-update-crypto-key.json'))), {
      kind: 'config-changed',
      ...base,
      at: '2025-02-14T16:20:45.500Z',
    });
    assert.deepEqual(parseGcpAuditEvent(asCe(fixture('gcp-destroy-version.json'))), {
      kind: 'danger',
      ...base,
      what: 'version-destroyed',
      at: '2025-04-11T10:05:17.000Z',
      version: '2',
    });
  });
});

describe('parseGcpAuditEvent: variants', () => {
  it('takes service, method and resource from the extensions when protoPayload lacks them', () => {
    const ce = patched('gcp-update-primary.json', {
      serviceName: undefined,
      methodName: undefined,
      resourceName: undefined,
    });
    assert.equal((parseGcpAuditEvent(ce) as { newMaterialId: string }).newMaterialId, '4');
    const { extensions: _extensions, ...noExt } = ce;
    assert.match(errorOf(parseGcpAuditEvent(noExt)), /no service/);
  });

  it('copes with a missing response, request id or timestamp', () => {
    const noResponse = patched('gcp-create-version.json', { response: undefined });
    assert.deepEqual(parseGcpAuditEvent(noResponse), {
      kind: 'rotated',
      ...base,
      at: '2025-03-03T08:00:01.234Z',
    });
    const fromPrimary = patched('gcp-update-primary.json', { request: { name: KEY } });
    assert.equal((parseGcpAuditEvent(fromPrimary) as { newMaterialId: string }).newMaterialId, '4');
    const ceTime = patched('gcp-update-crypto-key.json', {}, { timestamp: undefined });
    assert.equal((parseGcpAuditEvent(ceTime) as { at: string }).at, '2025-02-14T16:20:45.500Z');
    const { time: _time, ...noTime } = ceTime;
    assert.match(errorOf(parseGcpAuditEvent(noTime)), /timestamp/);
  });

  it('reads LogEntryData given as JSON text, and full resource names', () => {
    const ce = asCe(fixture('gcp-destroy-version.json'));
    const text = parseGcpAuditEvent({ ...ce, data: JSON.stringify(ce.data) });
    assert.deepEqual(text, parseGcpAuditEvent(ce));
    assert.deepEqual(splitCryptoKeyName(`//cloudkms.googleapis.com/${KEY}/cryptoKeyVersions/7`), {
      key: KEY,
      version: '7',
    });
    assert.equal(splitCryptoKeyName(`${KEY}/extra/segments`), undefined);
  });

  it('says unrelated for other services, other methods and failed calls', () => {
    for (const proto of [
      { serviceName: 'storage.googleapis.com' },
      { methodName: 'CreateKeyRing' },
      { methodName: 'hasOwnProperty' },
      { status: { code: 7, message: 'Permission denied' } },
    ]) {
      const t = parseGcpAuditEvent(patched('gcp-create-version.json', proto));
      assert.equal((t as { kind: string }).kind, 'unrelated', JSON.stringify(proto));
    }
  });

  it('returns { error } for malformed events, never throwing', () => {
    const ce = asCe(fixture('gcp-update-crypto-key.json'));
    const keyRing = KEY.replace(/\/cryptoKeys\/.*$/, '');
    const cases: [unknown, RegExp][] = [
      [{ ...ce, type: 'google.cloud.pubsub.topic.v1.messagePublished' }, /not a Cloud Audit Log/],
      [{ ...ce, data: 'not json' }, /LogEntryData is not JSON/],
      [{ ...ce, data: null }, /malformed LogEntryData/],
      [{ ...ce, data: { timestamp: '2025-01-01T00:00:00Z' } }, /protoPayload/],
      [{ ...ce, data: { protoPayload: 'x' } }, /protoPayload/],
      [patched('gcp-update-crypto-key.json', { methodName: 42 }), /methodName/],
      [patched('gcp-update-crypto-key.json', { resourceName: keyRing }), /not a CryptoKey/],
      [patched('gcp-update-crypto-key.json', {}, { timestamp: 'noon' }), /timestamp/],
    ];
    for (const [input, message] of cases) {
      assert.match(errorOf(parseGcpAuditEvent(input as never)), message);
    }
  });
});
