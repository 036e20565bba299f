// The local Cloud KMS's rules without gRPC (the conformance suite covers them through the real
// client): version lifecycle on a controlled clock, ciphertext binding, page tokens, scheduled
// rotation, and that its audit-log CloudEvent has the shape of a real Eventarc delivery.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { status } from '@grpc/grpc-js';
import { classifyKmsCloudEvent } from '../../../../shared/domain/events/dispatch.ts';
import { type AuditRecord, auditLogCloudEvent } from '../../../support/gcp-kms-server/audit-log.ts';
import { typed, versionJson } from '../../../support/gcp-kms-server/render.ts';
import { RpcError } from '../../../support/gcp-kms-server/rpc-error.ts';
import { KmsStore } from '../../../support/gcp-kms-server/store.ts';

const LOCATION = 'projects/p/locations/l';
const RING = `${LOCATION}/keyRings/r`;
const KEY = `${RING}/cryptoKeys/k`;
const OTHER = `${RING}/cryptoKeys/other`;
const DAY_MS = 86_400_000;
const data = Buffer.from('seed');
const none = Buffer.alloc(0);

function setup(start = Date.parse('2025-03-01T00:00:00Z')) {
  let now = start;
  const store = new KmsStore({ now: () => new Date(now), defaultPageSize: 2 });
  store.createKeyRing(LOCATION, 'r');
  store.createCryptoKey(RING, 'k', { purpose: 'ENCRYPT_DECRYPT', destroyScheduledSeconds: 86_400 });
  store.createCryptoKey(RING, 'other', { purpose: 'ENCRYPT_DECRYPT' });
  return { store, advance: (ms: number) => (now += ms) };
}

function throwsCode(fn: () => unknown, code: status): void {
  assert.throws(fn, (err: unknown) => err instanceof RpcError && err.code === code);
}

describe('local Cloud KMS store', () => {
  it('create rules: ring must exist, ids unique, ENCRYPT_DECRYPT only, schedule needs both fields', () => {
    const { store } = setup();
    throwsCode(() => store.createKeyRing(LOCATION, 'r'), status.ALREADY_EXISTS);
    throwsCode(() => store.createKeyRing(LOCATION, 'bad/id'), status.INVALID_ARGUMENT);
    throwsCode(
      () => store.createCryptoKey(`${LOCATION}/keyRings/none`, 'k', { purpose: 'ENCRYPT_DECRYPT' }),
      status.NOT_FOUND,
    );
    throwsCode(
      () => store.createCryptoKey(RING, 'k', { purpose: 'ENCRYPT_DECRYPT' }),
      status.ALREADY_EXISTS,
    );
    throwsCode(
      () => store.createCryptoKey(RING, 'mac', { purpose: 'MAC' }),
      status.INVALID_ARGUMENT,
    );
    throwsCode(
      () =>
        store.createCryptoKey(RING, 's', {
          purpose: 'ENCRYPT_DECRYPT',
          rotationPeriodSeconds: 86_400,
        }),
      status.INVALID_ARGUMENT,
    );
    const bare = store.createCryptoKey(RING, 'bare', {
      purpose: 'ENCRYPT_DECRYPT',
      skipInitialVersion: true,
    });
    assert.equal(store.primaryOf(bare), undefined);
    throwsCode(() => store.encrypt(bare.name, data, none), status.FAILED_PRECONDITION);
  });

  it('a destroyed version passes DESTROY_SCHEDULED, then DESTROYED at destroy_time', () => {
    const { store, advance } = setup();
    const v1 = store.encrypt(KEY, data, none).ciphertext;
    store.rotateOnSchedule(KEY);
    const destroyed = store.destroyVersion(`${KEY}/cryptoKeyVersions/1`);
    assert.equal(destroyed.state, 'DESTROY_SCHEDULED');
    throwsCode(() => store.decrypt(KEY, v1, none), status.FAILED_PRECONDITION);
    throwsCode(() => store.setPrimary(KEY, '1'), status.FAILED_PRECONDITION);
    throwsCode(
      () => store.destroyVersion(`${KEY}/cryptoKeyVersions/1`),
      status.FAILED_PRECONDITION,
    );
    advance(DAY_MS);
    const after = store.getVersion(`${KEY}/cryptoKeyVersions/1`);
    assert.equal(after.state, 'DESTROYED');
    assert.equal(after.material, undefined, 'the material is gone');
    assert.ok(after.destroyEventTime);
  });

  it('a ciphertext only opens under its own key, version and aad', () => {
    const { store } = setup();
    const { ciphertext, version } = store.encrypt(KEY, data, Buffer.from('aad'));
    assert.equal(version.name, `${KEY}/cryptoKeyVersions/1`);
    throwsCode(() => store.decrypt(OTHER, ciphertext, Buffer.from('aad')), status.INVALID_ARGUMENT);
    throwsCode(() => store.decrypt(KEY, ciphertext, none), status.INVALID_ARGUMENT);
    throwsCode(
      () => store.decrypt(KEY, Buffer.from('not a ciphertext'), none),
      status.INVALID_ARGUMENT,
    );
    throwsCode(
      () => store.decrypt(version.name, ciphertext, Buffer.from('aad')),
      status.INVALID_ARGUMENT,
    );
    assert.deepEqual(store.decrypt(KEY, ciphertext, Buffer.from('aad')).plaintext, data);
  });

  it('Encrypt with a version name uses that version, not the primary', () => {
    const { store } = setup();
    store.createVersion(KEY);
    const { version } = store.encrypt(`${KEY}/cryptoKeyVersions/2`, data, none);
    assert.equal(version.id, 2);
    assert.equal(store.primaryOf(store.getCryptoKey(KEY))?.id, 1);
  });

  it('page tokens are bound to their parent', () => {
    const { store } = setup();
    store.createVersion(KEY);
    store.createVersion(KEY);
    const first = store.listVersions(KEY, 0, '');
    assert.deepEqual(
      first.versions.map((x) => x.id),
      [1, 2],
    );
    assert.equal(first.totalSize, 3);
    const second = store.listVersions(KEY, 0, first.nextPageToken);
    assert.deepEqual(
      second.versions.map((x) => x.id),
      [3],
    );
    assert.equal(second.nextPageToken, '');
    throwsCode(() => store.listVersions(OTHER, 0, first.nextPageToken), status.INVALID_ARGUMENT);
    throwsCode(() => store.listVersions(KEY, 0, 'garbage'), status.INVALID_ARGUMENT);
  });

  it('a scheduled rotation makes a new primary and advances next_rotation_time by the period', () => {
    const { store } = setup();
    const next = new Date('2025-04-01T00:00:00Z');
    store.updateSchedule(KEY, { rotationPeriodSeconds: 30 * 86_400, nextRotationTime: next });
    const version = store.rotateOnSchedule(KEY);
    const key = store.getCryptoKey(KEY);
    assert.equal(key.primaryId, version.id);
    assert.equal(key.nextRotationTime?.toISOString(), '2025-05-01T00:00:00.000Z');
  });
});

describe('audit-log CloudEvent of the local server', () => {
  const { store } = setup();
  const version = store.createVersion(KEY);
  const record: AuditRecord = {
    methodName: 'CreateCryptoKeyVersion',
    resourceName: KEY,
    request: typed('CreateCryptoKeyVersionRequest', { parent: KEY, cryptoKeyVersion: {} }),
    response: typed('CryptoKeyVersion', versionJson(version)),
    timestamp: '2025-03-01T00:00:00.000Z',
  };

  it('has the attributes and LogEntryData fields of a real Eventarc delivery', () => {
    const real = JSON.parse(
      readFileSync(
        new URL('../../../fixtures/events/gcp-create-version.json', import.meta.url),
        'utf8',
      ),
    ) as { data: { protoPayload: object } } & Record<string, unknown>;
    const ours = auditLogCloudEvent(record) as typeof real;
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(real).sort());
    assert.deepEqual(Object.keys(ours.data).sort(), Object.keys(real.data).sort());
    assert.deepEqual(
      Object.keys(ours.data.protoPayload).sort(),
      Object.keys(real.data.protoPayload).sort(),
    );
  });

  it('is the same event for the same entry (a redelivery), with the id given when given', () => {
    assert.equal(auditLogCloudEvent(record).id, auditLogCloudEvent(record).id);
    assert.equal(auditLogCloudEvent(record, { id: 'x1' }).id, 'x1');
  });

  it('classifies as a rotation to the created version', () => {
    const { data, type, time, ...rest } = auditLogCloudEvent(record);
    const trigger = classifyKmsCloudEvent({
      type: String(type),
      time: String(time),
      data,
      extensions: rest,
    });
    assert.deepEqual(trigger, {
      kind: 'rotated',
      cloud: 'gcp',
      key: KEY,
      at: '2025-03-01T00:00:00.000Z',
      via: 'gcp-audit-log',
      newMaterialId: '2',
    });
  });
});
