// parseAzureEvent and abuseProtectionResponse: Key Vault CloudEvents to exact triggers (versions
// split off the key id), other Key Vault events `unrelated`, malformed data `{ error }`, and the
// CloudEvents webhook OPTIONS handshake with hostile header values.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  abuseProtectionResponse,
  parseAzureEvent,
} from '../../../../shared/domain/events/azure.ts';

type Json = Record<string, unknown>;

function fixture(name: string): Json {
  return JSON.parse(
    readFileSync(new URL(`../../../fixtures/events/${name}`, import.meta.url), 'utf8'),
  );
}

const ev = fixture('azure-key-new-version.json') as { type: string; time: string; data: Json };
const VERSION = '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31';
const KEY = 'https://kv-acme-etcd.vault.azure.net/keys/etcd-kek';

function withData(patch: Json, top: Json = {}) {
  return { type: ev.type, time: ev.time, ...top, data: { ...ev.data, ...patch } };
}

function errorOf(result: unknown): string {
  assert.ok(
    typeof result === 'object' && result !== null && 'error' in result,
    'expected an error',
  );
  return String(result.error);
}

describe('parseAzureEvent', () => {
  it('reads KeyNewVersionCreated: key id without version, version as new material', () => {
    assert.deepEqual(parseAzureEvent(ev), {
      kind: 'rotated',
      cloud: 'azure',
      key: KEY,
      newMaterialId: VERSION,
      at: '2025-03-14T09:26:53.541Z',
      via: 'azure-event-grid',
    });
  });

  it('accepts NBF/EXP as numbers, as null or absent, and an Id without version', () => {
    const expected = parseAzureEvent(ev);
    assert.deepEqual(parseAzureEvent(withData({ NBF: 1741944413, EXP: 1773480413 })), expected);
    assert.deepEqual(parseAzureEvent(withData({ NBF: undefined, EXP: null })), expected);
    assert.deepEqual(parseAzureEvent(withData({ Id: KEY })), expected);
    assert.deepEqual(parseAzureEvent({ ...ev, data: JSON.stringify(ev.data) }), expected);
  });

  it('reads KeyNearExpiry and KeyExpired as material-expired danger', () => {
    for (const type of ['Microsoft.KeyVault.KeyNearExpiry', 'Microsoft.KeyVault.KeyExpired']) {
      assert.deepEqual(parseAzureEvent({ ...ev, type }), {
        kind: 'danger',
        cloud: 'azure',
        key: KEY,
        what: 'material-expired',
        at: '2025-03-14T09:26:53.541Z',
        via: 'azure-event-grid',
        version: '876fd2a2b5ef4d1c9e0a4b6c2f8d7e31',
      });
    }
  });

  it('says unrelated for secret, certificate and policy events', () => {
    for (const type of [
      'Microsoft.KeyVault.SecretNewVersionCreated',
      'Microsoft.KeyVault.CertificateExpired',
      'Microsoft.KeyVault.VaultAccessPolicyChanged',
    ]) {
      assert.equal((parseAzureEvent({ ...ev, type }) as { kind: string }).kind, 'unrelated');
    }
  });

  it('returns { error } for malformed events, never throwing', () => {
    const cases: [{ type: string; data: unknown; time?: string }, RegExp][] = [
      [{ ...ev, type: 'Microsoft.Storage.BlobCreated' }, /not an Azure Key Vault/],
      [{ ...ev, data: null }, /malformed Key Vault event data/],
      [{ ...ev, data: '{Id:' }, /not JSON/],
      [withData({ Version: undefined }), /Version/],
      [withData({ Id: 42 }), /Id/],
      [withData({ NBF: { at: 1 } }), /NBF/],
      [withData({ ObjectType: 'Secret' }), /ObjectType "Secret"/],
      [withData({ Id: 'kv-acme-etcd/keys/etcd-kek' }), /not a key id URL/],
      [withData({ Id: `${KEY}/0000` }), /differs from Version/],
      [withData({}, { time: undefined }), /time/],
      [withData({}, { time: 'soon' }), /time/],
    ];
    for (const [input, message] of cases) assert.match(errorOf(parseAzureEvent(input)), message);
  });
});

describe('abuseProtectionResponse', () => {
  it('allows the requesting origin at any rate, whatever the header case', () => {
    for (const name of ['WebHook-Request-Origin', 'webhook-request-origin']) {
      assert.deepEqual(abuseProtectionResponse({ [name]: 'eventgrid.azure.net' }), {
        status: 200,
        headers: { 'WebHook-Allowed-Origin': 'eventgrid.azure.net', 'WebHook-Allowed-Rate': '*' },
      });
    }
    const withCallback = abuseProtectionResponse({
      'webhook-request-origin': 'eventgrid.azure.net',
      'webhook-request-callback': 'https://rp-westeurope.eventgrid.azure.net/validate?id=1',
    });
    assert.equal(withCallback.status, 200);
  });

  it('rejects a missing, empty or header-splitting origin with 400', () => {
    for (const headers of [
      {},
      { 'content-type': 'application/json' },
      { 'webhook-request-origin': undefined },
      { 'webhook-request-origin': '  ' },
      { 'webhook-request-origin': 'eventgrid.azure.net\r\nSet-Cookie: a=b' },
      { 'webhook-request-origin': 'https://eventgrid.azure.net/' },
      { 'webhook-request-origin': `${'a'.repeat(300)}.net` },
    ]) {
      const r = abuseProtectionResponse(headers);
      assert.equal(r.status, 400, JSON.stringify(headers).slice(0, 60));
      assert.ok('error' in r && r.error.length > 0);
    }
  });
});
