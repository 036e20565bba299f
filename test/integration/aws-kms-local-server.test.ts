// The local AWS KMS endpoint's own contract (the wire protocol, rotation timing, its EventBridge
// event, fault injection) and the adapter's transient errors, which only a server that can be
// made to fail shows through the real SDK.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  CreateKeyCommand,
  DecryptCommand,
  GenerateDataKeyCommand,
  KMSClient,
  ListKeyRotationsCommand,
  RotateKeyOnDemandCommand,
} from '@aws-sdk/client-kms';
import {
  AwsKmsPermanentError,
  AwsKmsTransientError,
  createAwsKms,
} from '../../shared/adapters/aws-kms/index.ts';
import { parseAwsEvent } from '../../shared/domain/events/aws.ts';
import { type AwsKmsServer, startAwsKmsServer } from '../support/aws-kms-server/server.ts';
import { freePort } from '../support/sandbox/net.ts';

const credentials = { accessKeyId: 'AKIDLOCALTEST', secretAccessKey: 'local-test-secret' };
const MATERIAL_ID = /^[0-9a-f]{64}$/;

function clients(server: AwsKmsServer, maxAttempts = 1) {
  const options = { endpoint: server.endpoint, region: server.region, credentials, maxAttempts };
  return { raw: new KMSClient(options), kms: createAwsKms(options) };
}

async function newKey(raw: KMSClient): Promise<{ id: string; arn: string }> {
  const meta = (await raw.send(new CreateKeyCommand({}))).KeyMetadata;
  assert.ok(meta?.KeyId && meta.Arn);
  return { id: meta.KeyId, arn: meta.Arn };
}

function post(server: AwsKmsServer, target: string | undefined, headers: Record<string, string>) {
  return fetch(server.endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-amz-json-1.1',
      ...(target ? { 'x-amz-target': target } : {}),
      ...headers,
    },
    body: JSON.stringify({ KeyId: '0badc0de-0000-4000-8000-000000000000' }),
  });
}

describe('local AWS KMS endpoint: wire protocol', () => {
  let server: AwsKmsServer;
  before(async () => {
    server = await startAwsKmsServer();
  });
  after(() => server.close());

  const sigv4 = {
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKID/20250101/us-east-1/kms/aws4_request, SignedHeaders=host, Signature=00',
  };

  const cases: Array<[string, string | undefined, Record<string, string>, string]> = [
    ['no Authorization', 'TrentService.DescribeKey', {}, 'MissingAuthenticationTokenException'],
    [
      'a non-SigV4 Authorization',
      'TrentService.DescribeKey',
      { authorization: 'Bearer x' },
      'IncompleteSignatureException',
    ],
    ['no X-Amz-Target', undefined, sigv4, 'UnknownOperationException'],
    ['an unknown operation', 'TrentService.ImportKeyMaterial', sigv4, 'UnknownOperationException'],
    ['a missing key', 'TrentService.DescribeKey', sigv4, 'NotFoundException'],
  ];
  for (const [what, target, headers, type] of cases) {
    it(`answers ${what} with 400 ${type}, AWS style`, async () => {
      const res = await post(server, target, headers);
      assert.equal(res.status, 400);
      assert.equal(res.headers.get('content-type'), 'application/x-amz-json-1.1');
      assert.equal(res.headers.get('x-amzn-errortype'), type);
      const body = (await res.json()) as { __type: string; message: string };
      assert.equal(body.__type, type);
      assert.equal(typeof body.message, 'string');
    });
  }

  it('pages ListKeyRotations, lists the first material on request, rejects a bad marker', async () => {
    const { raw } = clients(server);
    const { id } = await newKey(raw);
    for (let i = 0; i < 2; i++) server.rotateAutomatically(id);
    const all = await raw.send(
      new ListKeyRotationsCommand({ KeyId: id, IncludeKeyMaterial: 'ALL_KEY_MATERIAL' }),
    );
    assert.deepEqual(
      all.Rotations?.map((r) => [r.KeyMaterialState, r.RotationType]),
      [
        ['NON_CURRENT', undefined],
        ['NON_CURRENT', 'AUTOMATIC'],
        ['CURRENT', 'AUTOMATIC'],
      ],
    );
    for (const r of all.Rotations ?? []) assert.match(r.KeyMaterialId ?? '', MATERIAL_ID);
    await assert.rejects(
      raw.send(new ListKeyRotationsCommand({ KeyId: id, Marker: 'not-a-marker' })),
      { name: 'InvalidMarkerException' },
    );
    raw.destroy();
  });

  it('GenerateDataKey names the material; Decrypt refuses a KeyId that did not seal', async () => {
    const { raw } = clients(server);
    const a = await newKey(raw);
    const b = await newKey(raw);
    const dk = await raw.send(new GenerateDataKeyCommand({ KeyId: a.id, KeySpec: 'AES_256' }));
    assert.equal(dk.Plaintext?.length, 32);
    assert.match(dk.KeyMaterialId ?? '', MATERIAL_ID);
    const opened = await raw.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob }));
    assert.deepEqual(opened.Plaintext, dk.Plaintext);
    assert.equal(opened.KeyMaterialId, dk.KeyMaterialId);
    await assert.rejects(
      raw.send(new DecryptCommand({ CiphertextBlob: dk.CiphertextBlob, KeyId: b.id })),
      { name: 'IncorrectKeyException' },
    );
    raw.destroy();
  });
});

describe('local AWS KMS endpoint: asynchronous rotation and its event', () => {
  it('makes new material current only after the delay, then emits the rotation event', async () => {
    let now = 1_750_000_000_000;
    const server = await startAwsKmsServer({ rotationDelayMs: 5000, now: () => now });
    const { raw, kms } = clients(server);
    try {
      const { id, arn } = await newKey(raw);
      const before = await kms.currentMaterial(id);
      await raw.send(new RotateKeyOnDemandCommand({ KeyId: id }));
      await assert.rejects(raw.send(new RotateKeyOnDemandCommand({ KeyId: id })), {
        name: 'ConflictException',
      });
      now += 4999;
      assert.ok((await kms.rotationStatus(id)).onDemandRotationStartDate);
      assert.equal(await kms.currentMaterial(id), before);
      assert.equal(server.lastRotationEvent(id), undefined);

      now += 1;
      const status = await kms.rotationStatus(id);
      assert.equal(status.onDemandRotationStartDate, undefined);
      const after = await kms.currentMaterial(id);
      assert.notEqual(after, before);
      const [rotation] = await kms.listRotations(id);
      assert.equal(rotation?.rotationDate?.getTime(), now, 'dated when it completed');

      const event = server.lastRotationEvent(arn);
      assert.ok(event);
      assert.equal(event['detail-type'], 'KMS CMK Rotation');
      assert.equal(event.source, 'aws.kms');
      assert.deepEqual(event.resources, [arn]);
      assert.equal(event.time, '2025-06-15T15:06:45Z');
      assert.deepEqual(event.detail, {
        'key-id': id,
        'key-origin': 'AWS_KMS',
        'rotation-type': 'ON_DEMAND',
        'previous-key-material-id': before,
        'current-key-material-id': after,
      });
      assert.deepEqual(parseAwsEvent(event), {
        kind: 'rotated',
        cloud: 'aws',
        key: arn,
        at: '2025-06-15T15:06:45.000Z',
        via: 'aws-eventbridge',
        newMaterialId: after,
        previousMaterialId: before,
      });

      const automatic = server.rotateAutomatically(id);
      assert.equal(automatic.detail['rotation-type'], 'AUTOMATIC');
      assert.equal(automatic.detail['previous-key-material-id'], after);
      assert.equal(server.lastRotationEvent(id), automatic);
      assert.equal(
        await kms.keyIdentity(id),
        `${arn}#${automatic.detail['current-key-material-id']}`,
      );
    } finally {
      kms.close();
      raw.destroy();
      await server.close();
    }
  });

  it('stops at 25 on-demand rotations per key with LimitExceededException (permanent)', async () => {
    const server = await startAwsKmsServer({ rotationDelayMs: 0 });
    const { raw, kms } = clients(server);
    try {
      const { id } = await newKey(raw);
      for (let i = 0; i < 25; i++) await kms.rotateOnDemand(id, { pollMs: 1 });
      assert.equal((await kms.listRotations(id, { pageSize: 7 })).length, 25);
      await assert.rejects(kms.rotateOnDemand(id, { pollMs: 1 }), (err: unknown) => {
        return err instanceof AwsKmsPermanentError && err.code === 'LimitExceededException';
      });
    } finally {
      kms.close();
      raw.destroy();
      await server.close();
    }
  });
});

describe('AWS KMS adapter: transient errors through the real SDK', () => {
  let server: AwsKmsServer;
  before(async () => {
    server = await startAwsKmsServer({ rotationDelayMs: 60_000 });
  });
  after(() => server.close());

  const faults: Array<[string, number]> = [
    ['ThrottlingException', 400],
    ['KMSInternalException', 500],
    ['DependencyTimeoutException', 503],
    ['KeyUnavailableException', 500],
  ];
  for (const [type, status] of faults) {
    it(`${type} (${status}) -> AwsKmsTransientError`, async () => {
      const { raw, kms } = clients(server);
      const { id } = await newKey(raw);
      server.failNext({ operation: 'DescribeKey', type, status });
      await assert.rejects(kms.describeKey(id), (err: unknown) => {
        assert.ok(err instanceof AwsKmsTransientError, String(err));
        assert.equal(err.name, 'AwsKmsTransientError');
        assert.equal(err.code, type);
        assert.equal(err.httpStatusCode, status);
        assert.equal(err.retryable, true);
        return true;
      });
      raw.destroy();
      kms.close();
    });
  }

  it('lets the SDK retry a throttled call before it reaches rekey', async () => {
    const { raw, kms } = clients(server, 3);
    const { id } = await newKey(raw);
    server.failNext({ operation: 'DescribeKey', type: 'ThrottlingException', times: 2 });
    assert.equal((await kms.describeKey(id)).keyId, id);
    raw.destroy();
    kms.close();
  });

  it('maps a refused connection to a transient error', async () => {
    const port = await freePort();
    const kms = createAwsKms({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
    });
    await assert.rejects(kms.describeKey('any'), (err: unknown) => {
      return err instanceof AwsKmsTransientError && err.code === 'ECONNREFUSED';
    });
    kms.close();
  });

  it('maps a request that gets no answer in time to a transient TimeoutError', async () => {
    const silent = createServer(() => {}); // accepts, never answers
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    const kms = createAwsKms({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials,
      maxAttempts: 1,
      requestTimeoutMs: 200,
    });
    try {
      await assert.rejects(kms.describeKey('any'), (err: unknown) => {
        return err instanceof AwsKmsTransientError && err.code === 'TimeoutError';
      });
    } finally {
      kms.close();
      silent.closeAllConnections();
      silent.close();
    }
  });

  it('gives up waiting for a rotation with a transient RotationPending', async () => {
    const { raw, kms } = clients(server);
    const { id } = await newKey(raw);
    await assert.rejects(kms.rotateOnDemand(id, { pollMs: 20, timeoutMs: 150 }), (err: unknown) => {
      assert.ok(err instanceof AwsKmsTransientError, String(err));
      assert.equal(err.code, 'RotationPending');
      assert.match(err.message, /OnDemandRotationStartDate is still set/);
      return true;
    });
    // A second request while one runs is a conflict: transient, it can succeed later.
    await assert.rejects(kms.rotateOnDemand(id, { pollMs: 20, timeoutMs: 150 }), (err: unknown) => {
      return err instanceof AwsKmsTransientError && err.code === 'ConflictException';
    });
    raw.destroy();
    kms.close();
  });
});
