// The StoredEncryptionReader on an in-memory etcd: one bounded Range over the span of a page's
// keys, each object's classification index for index, missing keys undefined, storage paths as
// the apiserver's (not the resource's name), and only classifications returned.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Field, MapField, Root, Type } from 'protobufjs/light.js';
import type { RangeReader } from '../../../../shared/adapters/etcd/inspector.ts';
import { createStoredEncryptionReader } from '../../../../shared/adapters/etcd/stored-encryption.ts';

const writer = new Type('EncryptedObject')
  .add(new Field('encryptedData', 1, 'bytes'))
  .add(new Field('keyID', 2, 'string'))
  .add(new Field('encryptedDEKSource', 3, 'bytes'))
  .add(new MapField('annotations', 4, 'string', 'bytes'))
  .add(new Field('encryptedDEKSourceType', 5, 'int32'));
new Root().add(writer);

function kmsV2(provider: string, keyID: string): Buffer {
  const body = writer
    .encode(
      writer.fromObject({
        encryptedData: Buffer.from('ciphertext'),
        keyID,
        encryptedDEKSource: Buffer.from('wrapped-seed'),
        encryptedDEKSourceType: 1,
      }),
    )
    .finish();
  return Buffer.concat([Buffer.from(`k8s:enc:kms:v2:${provider}:`), body]);
}

function fakeEtcd(entries: Record<string, Buffer>) {
  const keys = Object.keys(entries)
    .map((k) => Buffer.from(k))
    .sort(Buffer.compare);
  const calls: { start: string; end: string; limit: number }[] = [];
  const read: RangeReader = async ({ start, end, limit }) => {
    calls.push({
      start: Buffer.from(start).toString('latin1'),
      end: Buffer.from(end).toString('latin1'),
      limit,
    });
    const inRange = keys.filter(
      (k) => Buffer.compare(k, start) >= 0 && Buffer.compare(k, Buffer.from(end)) < 0,
    );
    const page = inRange.slice(0, limit);
    return {
      kvs: page.map((k) => ({ key: k, value: entries[k.toString()] as Buffer })),
      more: inRange.length > limit,
      revision: '7',
    };
  };
  return { read, calls };
}

describe('createStoredEncryptionReader', () => {
  const etcd = {
    '/registry/secrets/a/s1': kmsV2('p', 'k2'),
    '/registry/secrets/a/s2': kmsV2('p', 'k1'),
    '/registry/secrets/a/s2x': kmsV2('p', 'k1'),
    '/registry/secrets/b/s3': Buffer.from('k8s:enc:aescbc:v1:key1:xx'),
    '/registry/secrets/c/s4': Buffer.from('{"kind":"Secret"}'),
    '/registry/services/specs/a/svc': kmsV2('p', 'k2'),
  };

  it('classifies each object of a page, index for index, from one span', async () => {
    const { read, calls } = fakeEtcd(etcd);
    const reader = createStoredEncryptionReader(read);
    const stored = await reader.read('secrets', [
      { namespace: 'b', name: 's3' },
      { namespace: 'a', name: 's1' },
      { namespace: 'a', name: 'gone' },
      { namespace: 'a', name: 's2' },
      { namespace: 'c', name: 's4' },
    ]);
    assert.deepEqual(stored, [
      { kind: 'aescbc', provider: 'key1' },
      { kind: 'kms-v2', provider: 'p', keyID: 'k2' },
      undefined,
      { kind: 'kms-v2', provider: 'p', keyID: 'k1' },
      { kind: 'identity' },
    ]);
    assert.deepEqual(calls, [
      { start: '/registry/secrets/a/gone', end: '/registry/secrets/c/s4\0', limit: 40 },
    ]);
  });

  it('pages a span larger than its limit, going on after the last key', async () => {
    const { read, calls } = fakeEtcd(etcd);
    const reader = createStoredEncryptionReader(read, { pageSize: 2 });
    const stored = await reader.read('secrets', [
      { namespace: 'a', name: 's1' },
      { namespace: 'b', name: 's3' },
    ]);
    assert.equal(stored[0]?.keyID, 'k2');
    assert.equal(stored[1]?.kind, 'aescbc');
    assert.deepEqual(
      calls.map((c) => c.start),
      ['/registry/secrets/a/s1', '/registry/secrets/a/s2\0'],
    );
  });

  it('reads a resource where the apiserver stores it, under the configured prefix', async () => {
    const { read } = fakeEtcd({ '/custom/services/specs/a/svc': kmsV2('p', 'k9') });
    const reader = createStoredEncryptionReader(read, { prefix: '/custom' });
    const [svc] = await reader.read('services', [{ namespace: 'a', name: 'svc' }]);
    assert.equal(svc?.keyID, 'k9');
  });

  it('reads nothing for an empty page', async () => {
    const { read, calls } = fakeEtcd(etcd);
    assert.deepEqual(await createStoredEncryptionReader(read).read('secrets', []), []);
    assert.equal(calls.length, 0);
  });

  it('lets an etcd failure through, for the caller to rewrite the page whole', async () => {
    const read: RangeReader = async () => {
      throw new Error('etcd down');
    };
    await assert.rejects(
      createStoredEncryptionReader(read).read('secrets', [{ namespace: 'a', name: 's1' }]),
      /etcd down/,
    );
  });
});
