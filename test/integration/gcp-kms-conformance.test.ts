// The GCP KMS adapter's conformance suite: the real @google-cloud/kms client (google-gax over
// grpc-js) through createGcpKms against the local Cloud KMS gRPC server. Covers the key_id (primary
// version name), rotation now (new version, then primary), old versions still decrypting, paging,
// the rotation schedule, gRPC error mapping (destroyed version, not found, server down), and that
// the audit-log CloudEvent the server's changes produce is classified as the rotation it was.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import { status } from '@grpc/grpc-js';
import { type CloudEvent, HTTP } from 'cloudevents';
import { createKmsClient, localKmsClientOptions } from '../../shared/adapters/gcp-kms/client.ts';
import {
  type GcpKmsError,
  GcpKmsPermanentError,
  GcpKmsTransientError,
} from '../../shared/adapters/gcp-kms/errors.ts';
import { createGcpKms, type GcpKms } from '../../shared/adapters/gcp-kms/gcp-kms.ts';
import { classifyKmsCloudEvent } from '../../shared/domain/events/dispatch.ts';
import { isParseError, type KmsTrigger } from '../../shared/domain/events/kms-trigger.ts';
import { toParts } from '../../shared/http/cloudevent-parts.ts';
import type { Json } from '../support/gcp-kms-server/render.ts';
import { type GcpKmsServer, startGcpKmsServer } from '../support/gcp-kms-server/server.ts';

const LOCATION = 'projects/rekey-test/locations/europe-west1';
const RING = `${LOCATION}/keyRings/k8s-etcd`;
const KEY = `${RING}/cryptoKeys/etcd-kek`;
const MISSING = `${RING}/cryptoKeys/no-such-key`;
const v = (n: number) => `${KEY}/cryptoKeyVersions/${n}`;
const DAY = 86_400;

/** Asserts `promise` rejects with `Class` and gRPC status name `code` (one of, when an array). */
async function rejectsWith(
  promise: Promise<unknown>,
  Class: typeof GcpKmsTransientError | typeof GcpKmsPermanentError,
  code: string | string[],
): Promise<GcpKmsError> {
  const err = await promise.then(
    () => assert.fail('expected a rejection'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Class, `expected ${Class.name}, got ${String(err)}`);
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(codes.includes(err.code), `code ${err.code} not in ${codes.join('|')}`);
  assert.equal(err.name, Class.name);
  assert.ok(err.cause !== undefined, 'keeps the SDK error as cause');
  return err;
}

/** The way the kms-event function reads a structured-mode CloudEvent, up to the trigger. */
function classify(structured: Json | undefined): KmsTrigger {
  assert.ok(structured, 'the server recorded the change');
  const event = HTTP.toEvent<unknown>({
    headers: { 'content-type': 'application/cloudevents+json; charset=utf-8' },
    body: JSON.stringify(structured),
  });
  assert.ok(!Array.isArray(event));
  const ce = event as CloudEvent<unknown>;
  ce.validate();
  const result = classifyKmsCloudEvent(toParts(ce));
  if (isParseError(result)) assert.fail(`not parsed: ${result.error}`);
  return result;
}

async function createKey(admin: KeyManagementServiceClient): Promise<void> {
  await admin.createKeyRing({ parent: LOCATION, keyRingId: 'k8s-etcd' });
  await admin.createCryptoKey({
    parent: RING,
    cryptoKeyId: 'etcd-kek',
    cryptoKey: { purpose: 'ENCRYPT_DECRYPT' },
  });
}

describe('GCP KMS adapter against the local Cloud KMS (real @google-cloud/kms client)', () => {
  let server: GcpKmsServer;
  let admin: KeyManagementServiceClient;
  let kms: GcpKms;
  const secret = Buffer.from('a DEK seed, 32 bytes long.......');
  let ciphertextV1: Uint8Array;

  before(async () => {
    server = await startGcpKmsServer();
    admin = createKmsClient(localKmsClientOptions(server.endpoint));
    await createKey(admin);
    kms = createGcpKms({ ...localKmsClientOptions(server.endpoint), timeoutMs: 5000 });
  });
  after(async () => {
    await kms?.close();
    await admin?.close();
    await server?.stop();
  });

  it('getKey: a new key has version 1 as primary, which is its key_id', async () => {
    const key = await kms.getKey(KEY);
    assert.deepEqual(key, { name: KEY, primaryVersion: v(1), primaryState: 'ENABLED' });
  });

  it('encrypt uses the primary and names it; decrypt gives the plaintext back', async () => {
    const { ciphertext, keyVersion } = await kms.encrypt(KEY, secret);
    assert.equal(keyVersion, v(1));
    assert.notDeepEqual(Buffer.from(ciphertext), secret);
    const { plaintext, usedPrimary } = await kms.decrypt(KEY, ciphertext);
    assert.deepEqual(Buffer.from(plaintext), secret);
    assert.equal(usedPrimary, true);
    ciphertextV1 = ciphertext;
  });

  it('decrypt with other additional authenticated data is a permanent INVALID_ARGUMENT', async () => {
    const { ciphertext } = await kms.encrypt(KEY, secret, { aad: Buffer.from('uid-1') });
    const ok = await kms.decrypt(KEY, ciphertext, { aad: Buffer.from('uid-1') });
    assert.deepEqual(Buffer.from(ok.plaintext), secret);
    await rejectsWith(
      kms.decrypt(KEY, ciphertext, { aad: Buffer.from('uid-2') }),
      GcpKmsPermanentError,
      'INVALID_ARGUMENT',
    );
  });

  it('a version created on its own is not primary (CreateCryptoKeyVersion alone)', async () => {
    const [created] = await admin.createCryptoKeyVersion({ parent: KEY, cryptoKeyVersion: {} });
    assert.equal(created.name, v(2));
    assert.equal(created.state, 'ENABLED');
    assert.equal((await kms.getKey(KEY)).primaryVersion, v(1));
    assert.equal((await kms.encrypt(KEY, secret)).keyVersion, v(1));
  });

  it('rotateNow creates a version and makes it primary: the key_id changes', async () => {
    const before = server.calls.length;
    const primary = await kms.rotateNow(KEY);
    assert.equal(primary, v(3));
    assert.deepEqual(
      server.calls.slice(before).map((c) => `${c.method}:${c.name}`),
      [`CreateCryptoKeyVersion:${KEY}`, `UpdateCryptoKeyPrimaryVersion:${KEY}`],
    );
    assert.equal((await kms.getKey(KEY)).primaryVersion, v(3));
    const { ciphertext, keyVersion } = await kms.encrypt(KEY, secret);
    assert.equal(keyVersion, v(3));
    assert.equal((await kms.decrypt(KEY, ciphertext)).usedPrimary, true);
  });

  it('a ciphertext made under version 1 still decrypts after the rotation', async () => {
    const { plaintext, usedPrimary } = await kms.decrypt(KEY, ciphertextV1);
    assert.deepEqual(Buffer.from(plaintext), secret);
    assert.equal(usedPrimary, false);
  });

  it('listVersions follows every page, in order, with states', async () => {
    await kms.rotateNow(KEY);
    await kms.rotateNow(KEY); // versions 1..5
    const before = server.calls.length;
    const versions = await kms.listVersions(KEY, { pageSize: 2 });
    assert.deepEqual(
      versions.map((x) => [x.name, x.versionId, x.state]),
      [1, 2, 3, 4, 5].map((n) => [v(n), String(n), 'ENABLED']),
    );
    assert.ok(versions.every((x) => typeof x.createTime === 'string'));
    const pages = server.calls.slice(before).filter((c) => c.method === 'ListCryptoKeyVersions');
    assert.equal(pages.length, 3, 'pages of 2, 2 and 1');
    assert.equal((await kms.listVersions(KEY)).length, 5, 'default page size');
  });

  it('rotation schedule: none by default, then set, read back and cleared', async () => {
    assert.deepEqual(await kms.rotationSchedule(KEY), {});
    const schedule = {
      rotationPeriodSeconds: 90 * DAY,
      nextRotationTime: '2030-01-01T00:00:00.000Z',
    };
    assert.deepEqual(await kms.setRotationSchedule(KEY, schedule), schedule);
    assert.deepEqual(await kms.rotationSchedule(KEY), schedule);
    const key = await kms.getKey(KEY);
    assert.equal(key.rotationPeriodSeconds, 90 * DAY);
    assert.equal(key.nextRotationTime, schedule.nextRotationTime);
    assert.deepEqual(await kms.setRotationSchedule(KEY, {}), {});
    assert.deepEqual(await kms.rotationSchedule(KEY), {});
  });

  it('a schedule Cloud KMS refuses is a permanent INVALID_ARGUMENT', async () => {
    await rejectsWith(
      kms.setRotationSchedule(KEY, {
        rotationPeriodSeconds: 3600,
        nextRotationTime: '2030-01-01T00:00:00.000Z',
      }),
      GcpKmsPermanentError,
      'INVALID_ARGUMENT',
    );
    await rejectsWith(
      kms.setRotationSchedule(KEY, { rotationPeriodSeconds: 30 * DAY }),
      GcpKmsPermanentError,
      'INVALID_ARGUMENT',
    );
  });

  it('a destroyed version no longer decrypts: permanent FAILED_PRECONDITION', async () => {
    const [destroyed] = await admin.destroyCryptoKeyVersion({ name: v(1) });
    assert.equal(destroyed.state, 'DESTROY_SCHEDULED');
    assert.ok(destroyed.destroyTime, 'destroy_time is set');
    const err = await rejectsWith(
      kms.decrypt(KEY, ciphertextV1),
      GcpKmsPermanentError,
      'FAILED_PRECONDITION',
    );
    assert.equal(err.operation, 'Decrypt');
    assert.equal(err.resource, KEY);
    assert.match(err.message, /DESTROY_SCHEDULED/);
    const states = await kms.listVersions(KEY);
    assert.equal(states[0]?.state, 'DESTROY_SCHEDULED');
    // and it can no longer become primary
    await assert.rejects(
      admin.updateCryptoKeyPrimaryVersion({ name: KEY, cryptoKeyVersionId: '1' }),
      {
        code: status.FAILED_PRECONDITION,
      },
    );
  });

  it('a key that does not exist is a permanent NOT_FOUND, for reads and for rotation', async () => {
    await rejectsWith(kms.getKey(MISSING), GcpKmsPermanentError, 'NOT_FOUND');
    await rejectsWith(kms.listVersions(MISSING), GcpKmsPermanentError, 'NOT_FOUND');
    await rejectsWith(kms.rotateNow(MISSING), GcpKmsPermanentError, 'NOT_FOUND');
    await rejectsWith(kms.encrypt(MISSING, secret), GcpKmsPermanentError, 'NOT_FOUND');
  });

  it('a malformed key name is a permanent INVALID_ARGUMENT', async () => {
    await rejectsWith(kms.getKey('etcd-kek'), GcpKmsPermanentError, 'INVALID_ARGUMENT');
  });

  it('gRPC codes the server answers map at the boundary', async () => {
    server.failNext('Encrypt', status.RESOURCE_EXHAUSTED);
    await rejectsWith(kms.encrypt(KEY, secret), GcpKmsTransientError, 'RESOURCE_EXHAUSTED');
    server.failNext('CreateCryptoKeyVersion', status.ABORTED);
    await rejectsWith(kms.rotateNow(KEY), GcpKmsTransientError, 'ABORTED');
    server.failNext('UpdateCryptoKeyPrimaryVersion', status.INTERNAL);
    await rejectsWith(kms.rotateNow(KEY), GcpKmsTransientError, 'INTERNAL');
    server.failNext('GetCryptoKey', status.PERMISSION_DENIED);
    await rejectsWith(kms.getKey(KEY), GcpKmsPermanentError, 'PERMISSION_DENIED');
    server.failNext('GetCryptoKey', status.UNAUTHENTICATED);
    await rejectsWith(kms.getKey(KEY), GcpKmsPermanentError, 'UNAUTHENTICATED');
  });

  it('methods the local server does not implement answer UNIMPLEMENTED', async () => {
    await assert.rejects(admin.getPublicKey({ name: v(2) }), { code: status.UNIMPLEMENTED });
  });

  describe('the audit-log CloudEvent of a change is the trigger it should be', () => {
    it('CreateCryptoKeyVersion -> rotated, naming the new version', async () => {
      const created = await kms.rotateNow(KEY);
      const id = created.slice(created.lastIndexOf('/') + 1);
      const record = server.audit.findLast((r) => r.methodName === 'CreateCryptoKeyVersion');
      const trigger = classify(server.auditEvent('CreateCryptoKeyVersion', KEY));
      assert.deepEqual(trigger, {
        kind: 'rotated',
        cloud: 'gcp',
        key: KEY,
        at: new Date(record?.timestamp ?? '').toISOString(),
        via: 'gcp-audit-log',
        newMaterialId: id,
      });
    });

    it('UpdateCryptoKeyPrimaryVersion -> rotated, naming the new primary (short and full names)', async () => {
      const primary = await kms.rotateNow(KEY);
      const id = primary.slice(primary.lastIndexOf('/') + 1);
      for (const fullMethodName of [false, true]) {
        const ce = server.auditEvent('UpdateCryptoKeyPrimaryVersion', KEY, { fullMethodName });
        const trigger = classify(ce);
        assert.equal(trigger.kind, 'rotated');
        assert.ok(trigger.kind === 'rotated');
        assert.equal(trigger.key, KEY);
        assert.equal(trigger.newMaterialId, id);
        assert.equal(trigger.via, 'gcp-audit-log');
      }
    });

    it('the event carries the Eventarc attributes and LogEntryData shape', () => {
      const ce = server.auditEvent('UpdateCryptoKeyPrimaryVersion', KEY) as Json & {
        data: { protoPayload: Json; timestamp: string };
      };
      assert.equal(ce.type, 'google.cloud.audit.log.v1.written');
      assert.equal(ce.servicename, 'cloudkms.googleapis.com');
      assert.equal(ce.methodname, 'UpdateCryptoKeyPrimaryVersion');
      assert.equal(ce.resourcename, KEY);
      assert.equal(ce.source, '//cloudaudit.googleapis.com/projects/rekey-test/logs/activity');
      const p = ce.data.protoPayload;
      assert.equal(p.serviceName, 'cloudkms.googleapis.com');
      assert.equal(p.methodName, 'UpdateCryptoKeyPrimaryVersion');
      assert.equal(p.resourceName, KEY);
      assert.equal(
        (p.request as Json)['@type'],
        'type.googleapis.com/google.cloud.kms.v1.UpdateCryptoKeyPrimaryVersionRequest',
      );
      assert.equal(((p.response as Json).primary as Json).state, 'ENABLED');
      assert.equal(ce.time, ce.data.timestamp);
    });

    it('UpdateCryptoKey -> config-changed; DestroyCryptoKeyVersion -> danger', async () => {
      await kms.setRotationSchedule(KEY, {
        rotationPeriodSeconds: 30 * DAY,
        nextRotationTime: '2031-01-01T00:00:00.000Z',
      });
      const changed = classify(server.auditEvent('UpdateCryptoKey', KEY));
      assert.equal(changed.kind, 'config-changed');
      await admin.destroyCryptoKeyVersion({ name: v(2) });
      const danger = classify(server.auditEvent('DestroyCryptoKeyVersion', v(2)));
      assert.ok(danger.kind === 'danger');
      assert.equal(danger.what, 'version-destroyed');
      assert.equal(danger.key, KEY);
    });

    it('a scheduled rotation (new version made primary by the service) reads as a new key_id', async () => {
      const version = server.store.rotateOnSchedule(KEY);
      assert.equal((await kms.getKey(KEY)).primaryVersion, version.name);
      assert.equal((await kms.encrypt(KEY, secret)).keyVersion, version.name);
    });
  });
});

describe('GCP KMS adapter when the endpoint goes away', () => {
  let server: GcpKmsServer;
  let kms: GcpKms;

  before(async () => {
    server = await startGcpKmsServer();
    const admin = createKmsClient(localKmsClientOptions(server.endpoint));
    await createKey(admin);
    await admin.close();
    kms = createGcpKms({ ...localKmsClientOptions(server.endpoint), timeoutMs: 1500 });
    assert.equal((await kms.getKey(KEY)).primaryVersion, v(1), 'connected first');
  });
  after(async () => {
    await kms?.close();
    await server?.stop();
  });

  it('a stopped server is a transient error; the same endpoint back up works again', async () => {
    await server.stop();
    // CreateCryptoKeyVersion is not retried by google-gax: the channel's own UNAVAILABLE.
    await rejectsWith(kms.rotateNow(KEY), GcpKmsTransientError, 'UNAVAILABLE');
    // Calls Google's retry table marks idempotent (Get, List, Encrypt, Decrypt...) are retried on
    // UNAVAILABLE until the adapter's deadline, which gax then reports as DEADLINE_EXCEEDED.
    const gone = ['UNAVAILABLE', 'DEADLINE_EXCEEDED'];
    await rejectsWith(kms.getKey(KEY), GcpKmsTransientError, gone);
    await rejectsWith(kms.encrypt(KEY, Buffer.from('plaintext')), GcpKmsTransientError, gone);

    server = await startGcpKmsServer({
      port: server.port,
      store: server.store,
      audit: server.audit,
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        assert.equal((await kms.getKey(KEY)).primaryVersion, v(1));
        break;
      } catch (err) {
        if (!(err instanceof GcpKmsTransientError) || Date.now() > deadline) throw err;
      }
    }
  });
});
