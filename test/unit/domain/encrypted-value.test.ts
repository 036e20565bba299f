// Classification of every prefix kind, malformed values, etcd key parsing and the summary fold.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Field, MapField, Root, Type } from 'protobufjs/light.js';
import {
  addToSummary,
  classifyValue,
  emptySummary,
  inspectEntry,
  type ObjectReport,
  parseEtcdKey,
  summariseReports,
} from '../../../shared/domain/encrypted-value.ts';

// An independent writer for EncryptedObject, so tests can build values the apiserver would write.
const writer = new Type('EncryptedObject')
  .add(new Field('encryptedData', 1, 'bytes'))
  .add(new Field('keyID', 2, 'string'))
  .add(new Field('encryptedDEKSource', 3, 'bytes'))
  .add(new MapField('annotations', 4, 'string', 'bytes'))
  .add(new Field('encryptedDEKSourceType', 5, 'int32'));
new Root().add(writer);

function kmsV2(provider: string, fields: Record<string, unknown>): Buffer {
  const obj = {
    encryptedData: Buffer.from('ciphertext'),
    keyID: 'key-2',
    encryptedDEKSource: Buffer.from('wrapped-seed'),
    encryptedDEKSourceType: 1,
    ...fields,
  };
  const body = writer.encode(writer.fromObject(obj)).finish();
  return Buffer.concat([Buffer.from(`k8s:enc:kms:v2:${provider}:`), body]);
}

describe('classifyValue', () => {
  it('reads a KMS v2 envelope written in code', () => {
    const value = kmsV2('aws-kms', {
      keyID: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      annotations: { 'b.example.com': Buffer.from('x'), 'a.example.com': Buffer.from('y') },
    });
    assert.deepEqual(classifyValue(value), {
      kind: 'kms-v2',
      provider: 'aws-kms',
      keyID: 'arn:aws:kms:eu-west-1:111122223333:key/abc',
      dekSourceType: 1,
      annotationKeys: ['a.example.com', 'b.example.com'],
    });
  });

  const simple = [
    ['k8s:enc:kms:v1:old-kms:', 'kms-v1', 'old-kms'],
    ['k8s:enc:aescbc:v1:key1:', 'aescbc', 'key1'],
    ['k8s:enc:aesgcm:v1:key-2024:', 'aesgcm', 'key-2024'],
    ['k8s:enc:secretbox:v1:sb:', 'secretbox', 'sb'],
  ] as const;
  for (const [prefix, kind, provider] of simple) {
    it(`reads ${kind} and its name, ignoring the ciphertext after it (even ':' bytes)`, () => {
      const value = Buffer.concat([Buffer.from(prefix), Buffer.from([0x3a, 0xff, 0x00, 0x3a])]);
      assert.deepEqual(classifyValue(value), { kind, provider });
    });
  }

  it('calls values without k8s:enc: identity (protobuf and JSON storage)', () => {
    assert.deepEqual(classifyValue(Buffer.from('k8s\0\n\x0c\n\x02v1\x12\x06Secret')), {
      kind: 'identity',
    });
    assert.deepEqual(classifyValue(Buffer.from('{"kind":"Secret"}')), { kind: 'identity' });
    assert.deepEqual(classifyValue(new Uint8Array(0)), { kind: 'identity' });
    assert.deepEqual(classifyValue(Buffer.from('k8s:enc')), { kind: 'identity' });
  });

  it('accepts a plain Uint8Array as well as a Buffer', () => {
    const value = new Uint8Array(kmsV2('p', {}));
    assert.equal(classifyValue(value).keyID, 'key-2');
  });

  it('flags an unknown k8s:enc: scheme as unknown', () => {
    const r = classifyValue(Buffer.from('k8s:enc:rot13:v9:k:data'));
    assert.equal(r.kind, 'unknown');
    assert.match(r.error ?? '', /unrecognised encryption prefix "k8s:enc:rot13:"/);
  });

  it('flags a prefix with no terminating colon or an empty name', () => {
    assert.deepEqual(classifyValue(Buffer.from('k8s:enc:aescbc:v1:key1')), {
      kind: 'aescbc',
      error: 'encryption prefix has no terminating ":"',
    });
    assert.equal(
      classifyValue(Buffer.from('k8s:enc:kms:v2::xx')).error,
      'encryption prefix has an empty name',
    );
  });

  it('reports corrupt KMS v2 protobuf as kms-v2 with an error, never throwing', () => {
    const good = kmsV2('p', {});
    const truncated = good.subarray(0, good.length - 3);
    const r = classifyValue(truncated);
    assert.equal(r.kind, 'kms-v2');
    assert.equal(r.provider, 'p');
    assert.equal(r.keyID, undefined);
    assert.match(r.error ?? '', /^invalid KMS v2 EncryptedObject: /);

    const badWire = Buffer.concat([Buffer.from('k8s:enc:kms:v2:p:'), Buffer.from([0x0f, 0x01])]);
    assert.match(classifyValue(badWire).error ?? '', /invalid KMS v2 EncryptedObject/);
  });

  it('applies the apiserver validation rules to well-formed protobuf', () => {
    const errorOf = (fields: Record<string, unknown>) => classifyValue(kmsV2('p', fields)).error;
    assert.match(errorOf({ keyID: '' }) ?? '', /keyID is empty/);
    assert.match(errorOf({ keyID: 'k'.repeat(1025) }) ?? '', /keyID is 1025 bytes/);
    assert.match(errorOf({ encryptedData: Buffer.alloc(0) }) ?? '', /encryptedData is empty/);
    assert.match(
      errorOf({ encryptedDEKSource: Buffer.alloc(0) }) ?? '',
      /encryptedDEKSource is empty/,
    );
    assert.match(errorOf({ encryptedDEKSource: Buffer.alloc(1025) }) ?? '', /over 1024/);
    assert.match(errorOf({ encryptedDEKSourceType: 7 }) ?? '', /unknown encryptedDEKSourceType: 7/);
    assert.match(
      errorOf({ annotations: { 'a.example.com': Buffer.alloc(33 * 1024) } }) ?? '',
      /annotations are \d+ bytes/,
    );
    assert.equal(errorOf({ encryptedDEKSourceType: 0 }), undefined);
  });

  it('rejects a keyID that is not UTF-8, as Go proto decoding does', () => {
    const body = Buffer.from([0x0a, 0x01, 0x00, 0x12, 0x01, 0xff, 0x1a, 0x01, 0x00]);
    const r = classifyValue(Buffer.concat([Buffer.from('k8s:enc:kms:v2:p:'), body]));
    assert.equal(r.error, 'invalid KMS v2 EncryptedObject: keyID is not valid UTF-8');
  });
});

describe('parseEtcdKey', () => {
  it('splits namespaced keys under the default prefix', () => {
    assert.deepEqual(parseEtcdKey('/registry/secrets/default/db-pass'), {
      ok: true,
      resource: 'secrets',
      namespace: 'default',
      name: 'db-pass',
    });
  });

  it('splits cluster-scoped keys', () => {
    assert.deepEqual(parseEtcdKey('/registry/namespaces/kube-system'), {
      ok: true,
      resource: 'namespaces',
      name: 'kube-system',
    });
  });

  it('honours a custom prefix with or without a trailing slash', () => {
    const key = '/43da/registry/secrets/ns/n';
    const want = { ok: true, resource: 'secrets', namespace: 'ns', name: 'n' };
    assert.deepEqual(parseEtcdKey(key, { prefix: '/43da/registry' }), want);
    assert.deepEqual(parseEtcdKey(key, { prefix: '/43da/registry/' }), want);
  });

  it('uses a known resource to read group-qualified keys', () => {
    assert.deepEqual(
      parseEtcdKey('/registry/example.com/widgets/ns/w1', { resource: 'example.com/widgets' }),
      { ok: true, resource: 'example.com/widgets', namespace: 'ns', name: 'w1' },
    );
  });

  it('returns errors instead of throwing for keys that do not fit', () => {
    const bad = [
      ['/other/secrets/ns/n', {}],
      ['/registry/secrets', {}],
      ['/registry/secrets/', {}],
      ['/registry/secrets/a/b/c', {}],
      ['/registry/secrets//n', {}],
      ['/registry/configmaps/ns/n', { resource: 'secrets' }],
    ] as const;
    for (const [key, opts] of bad) {
      const r = parseEtcdKey(key, opts);
      assert.equal(r.ok, false, key);
      if (!r.ok) assert.ok(r.error.length > 0);
    }
  });
});

describe('inspectEntry', () => {
  it('keeps the raw key and reports a key error when the key does not parse', () => {
    const r = inspectEntry('/registry/secrets/a/b/c', Buffer.from('{}'), { resource: 'secrets' });
    assert.equal(r.kind, 'identity');
    assert.equal(r.key, '/registry/secrets/a/b/c');
    assert.equal(r.resource, 'secrets');
    assert.match(r.error ?? '', /<namespace>\/<name>/);
  });
});

describe('summariser', () => {
  const report = (over: Partial<ObjectReport> & Pick<ObjectReport, 'kind'>): ObjectReport => ({
    key: '/registry/secrets/ns/x',
    resource: 'secrets',
    ...over,
  });
  const reports: ObjectReport[] = [
    report({ kind: 'kms-v2', provider: 'kms', keyID: 'v2' }),
    report({ kind: 'kms-v2', provider: 'kms', keyID: 'v1' }),
    report({ kind: 'kms-v2', provider: 'kms', keyID: 'v2' }),
    report({ kind: 'identity' }),
    report({ kind: 'kms-v2', provider: 'kms', error: 'invalid KMS v2 EncryptedObject: x' }),
    report({ kind: 'aescbc', provider: 'key1', resource: 'configmaps' }),
  ];

  it('counts per resource, kind, provider and keyID, in a stable order', () => {
    assert.deepEqual(summariseReports(reports), {
      objects: 6,
      errors: 1,
      rows: [
        {
          resource: 'configmaps',
          kind: 'aescbc',
          provider: 'key1',
          keyID: null,
          count: 1,
          errors: 0,
        },
        { resource: 'secrets', kind: 'identity', provider: null, keyID: null, count: 1, errors: 0 },
        { resource: 'secrets', kind: 'kms-v2', provider: 'kms', keyID: null, count: 1, errors: 1 },
        { resource: 'secrets', kind: 'kms-v2', provider: 'kms', keyID: 'v1', count: 1, errors: 0 },
        { resource: 'secrets', kind: 'kms-v2', provider: 'kms', keyID: 'v2', count: 2, errors: 0 },
      ],
    });
  });

  it('gives the same answer whatever the order of reports', () => {
    assert.deepEqual(summariseReports([...reports].reverse()), summariseReports(reports));
  });

  it('does not mutate the summary it folds into', () => {
    const start = emptySummary();
    const one = addToSummary(start, reports[0] as ObjectReport);
    const two = addToSummary(one, reports[0] as ObjectReport);
    assert.deepEqual(start, { objects: 0, errors: 0, rows: [] });
    assert.equal(one.rows[0]?.count, 1);
    assert.equal(two.rows[0]?.count, 2);
  });

  it('summarises nothing as zero', () => {
    assert.deepEqual(summariseReports([]), { objects: 0, errors: 0, rows: [] });
  });
});
