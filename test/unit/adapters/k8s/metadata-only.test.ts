// Users' objects reach rekey without annotations or managedFields: a Secret applied with
// client-side `kubectl apply` carries its whole manifest, data included, in an annotation that
// metadata-only lists and patch responses return.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  parseWithoutAnnotations,
  UNREADABLE,
  withoutAnnotations,
} from '../../../../shared/adapters/k8s/metadata-only.ts';
import type { RestClient, RestResponse } from '../../../../shared/adapters/k8s/rest-client.ts';

const VALUE = 'dG9wLXNlY3JldC12YWx1ZQ=='; // base64 of a secret value
const applied = JSON.stringify({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name: 's1', namespace: 'ns' },
  data: { password: VALUE },
});
const meta = (name: string) => ({
  name,
  namespace: 'ns',
  uid: `uid-${name}`,
  resourceVersion: '42',
  labels: { app: 'x' },
  annotations: {
    'kubectl.kubernetes.io/last-applied-configuration': applied,
    'example.com/copy': VALUE,
  },
  managedFields: [{ manager: 'kubectl-client-side-apply', fieldsV1: { 'f:data': {} } }],
});
const LIST = JSON.stringify({
  kind: 'PartialObjectMetadataList',
  apiVersion: 'meta.k8s.io/v1',
  metadata: { resourceVersion: '50', continue: 'c1' },
  items: [
    { kind: 'PartialObjectMetadata', metadata: meta('s1') },
    { kind: 'PartialObjectMetadata', metadata: meta('s2') },
  ],
});
const ONE = JSON.stringify({ kind: 'PartialObjectMetadata', metadata: meta('s1') });

function answering(res: RestResponse): RestClient {
  return { request: async () => res, close: () => {} };
}

describe('parseWithoutAnnotations', () => {
  it('keeps every metadata field but annotations and managedFields, in lists and objects', () => {
    const list = parseWithoutAnnotations<{ metadata: unknown; items: { metadata: unknown }[] }>(
      LIST,
    );
    assert.deepEqual(list.metadata, { resourceVersion: '50', continue: 'c1' });
    assert.deepEqual(
      list.items.map((i) => i.metadata),
      ['s1', 's2'].map((name) => ({
        name,
        namespace: 'ns',
        uid: `uid-${name}`,
        resourceVersion: '42',
        labels: { app: 'x' },
      })),
    );
    assert.ok(!JSON.stringify(list).includes(VALUE));
    assert.ok(!JSON.stringify(parseWithoutAnnotations(ONE)).includes(VALUE));
  });

  it('reads a Status as it is', () => {
    const status = { kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409 };
    assert.deepEqual(parseWithoutAnnotations(JSON.stringify(status)), status);
  });
});

describe('withoutAnnotations', () => {
  const json = { 'content-type': 'application/json' };

  it('hands on JSON answers without annotations, status and headers unchanged', async () => {
    for (const body of [LIST, ONE]) {
      const res = await withoutAnnotations(answering({ status: 200, headers: json, body })).request(
        { path: '/api/v1/secrets' },
      );
      assert.equal(res.status, 200);
      assert.deepEqual(res.headers, json);
      assert.ok(!res.body.includes(VALUE), res.body);
      assert.ok(!res.body.includes('last-applied'), res.body);
      assert.match(res.body, /"uid":"uid-s1"/);
    }
  });

  it('passes other answers unchanged, and never the text of JSON that does not parse', async () => {
    const metrics = 'apiserver_envelope_encryption_key_id_hash_total 1\n';
    const text = await withoutAnnotations(
      answering({ status: 200, headers: { 'content-type': 'text/plain' }, body: metrics }),
    ).request({ path: '/metrics' });
    assert.equal(text.body, metrics);
    const cut = await withoutAnnotations(
      answering({ status: 200, headers: json, body: LIST.slice(0, 400) }),
    ).request({ path: '/api/v1/secrets' });
    assert.equal(cut.body, UNREADABLE);
  });
});
