// The typed calls on rekey's RestClient (shared/adapters/k8s/typed-api.ts): the paths, methods and
// query client-node would send, errors that carry the HTTP status as `code` (what the adapters'
// 404/409 checks read) without echoing the object sent, and Lease times as MicroTime.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RestClient, RestRequest } from '../../../../shared/adapters/k8s/rest-client.ts';
import { KubeApiError, microTime, typedApi } from '../../../../shared/adapters/k8s/typed-api.ts';
import { failedDependency } from '../../../../shared/ports/retryable.ts';

function fakeRest(status = 200, body = '{"items":[]}') {
  const sent: RestRequest[] = [];
  const rest: RestClient = {
    async request(req) {
      sent.push(req);
      return { status, headers: {}, body };
    },
    close() {},
  };
  return { rest, sent };
}

describe('typed API calls on the RestClient', () => {
  it('sends what client-node would: paths, methods, selectors', async () => {
    const { rest, sent } = fakeRest();
    const { core, coordination, authentication } = typedApi(rest);
    await core.listNamespacedSecret({ namespace: 'rekey-system', labelSelector: 'a=b' });
    await core.readNamespacedSecret({ namespace: 'rekey-system', name: 'encryption-key-x-1' });
    await core.createNamespacedSecret({
      namespace: 'rekey-system',
      body: { metadata: { name: 'n' } },
    });
    await core.replaceNamespacedSecret({ namespace: 'ns', name: 'n', body: {} });
    await core.deleteNamespacedSecret({
      namespace: 'ns',
      name: 'n',
      body: { preconditions: { resourceVersion: '7' } },
    });
    await core.replaceNamespacedConfigMap({ namespace: 'ns', name: 'r', body: {} });
    await coordination.listNamespacedLease({ namespace: 'kube-system' });
    await coordination.replaceNamespacedLease({ namespace: 'ns', name: 'l', body: {} });
    await authentication.createTokenReview({ body: { spec: { token: 't' } } });
    assert.deepEqual(
      sent.map((r) => `${r.method ?? 'GET'} ${r.path}`),
      [
        'GET /api/v1/namespaces/rekey-system/secrets',
        'GET /api/v1/namespaces/rekey-system/secrets/encryption-key-x-1',
        'POST /api/v1/namespaces/rekey-system/secrets',
        'PUT /api/v1/namespaces/ns/secrets/n',
        'DELETE /api/v1/namespaces/ns/secrets/n',
        'PUT /api/v1/namespaces/ns/configmaps/r',
        'GET /apis/coordination.k8s.io/v1/namespaces/kube-system/leases',
        'PUT /apis/coordination.k8s.io/v1/namespaces/ns/leases/l',
        'POST /apis/authentication.k8s.io/v1/tokenreviews',
      ],
    );
    assert.equal(sent[0]?.query?.labelSelector, 'a=b');
    assert.deepEqual(sent[4]?.body, { preconditions: { resourceVersion: '7' } });
  });

  it('a non-2xx answer throws a KubeApiError with the status as `code` and the apiserver reason', async () => {
    const status = JSON.stringify({
      kind: 'Status',
      code: 409,
      message: 'the object has been modified',
    });
    const { core } = typedApi(fakeRest(409, status).rest);
    const err = await core
      .replaceNamespacedSecret({ namespace: 'ns', name: 'n', body: { data: { k: 'c2VjcmV0' } } })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof KubeApiError);
    assert.equal(err.code, 409);
    assert.match(
      err.message,
      /PUT \/api\/v1\/namespaces\/ns\/secrets\/n: HTTP 409: the object has been modified/,
    );
    assert.ok(!err.message.includes('c2VjcmV0'), 'the object sent is not in the error');
  });

  it('a network failure (status 0) is an error too, never parsed as an object', async () => {
    const { core } = typedApi(fakeRest(0, 'connect ECONNREFUSED').rest);
    await assert.rejects(
      core.listNamespacedSecret({ namespace: 'ns' }),
      (e: unknown) => e instanceof KubeApiError && e.code === 0,
    );
  });

  it('a 2xx answer that is not a JSON object is a retryable failure that does not quote it', async () => {
    // a proxy's page, a body cut off, `null`: the apiserver (or what is in front of it) failed
    for (const body of ['<html>proxy</html>', '', 'null', '[]', '{"data":{"k":"c2VjcmV0']) {
      const { core } = typedApi(fakeRest(200, body).rest);
      const err = await core.readNamespacedSecret({ namespace: 'rekey-state', name: 'n' }).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error, `${JSON.stringify(body)} is refused`);
      assert.deepEqual(failedDependency(err), { retryable: true, retryAfterSeconds: undefined });
      assert.ok(!err.message.includes('c2VjcmV0') && !err.message.includes('proxy'), err.message);
      assert.equal(err.cause, undefined, 'the parser error (which quotes the text) is not kept');
    }
  });

  it('Lease times serialise as MicroTime (six fractional digits)', () => {
    const t = microTime(Date.parse('2026-11-22T13:01:41.123Z'));
    assert.equal(JSON.stringify({ renewTime: t }), '{"renewTime":"2026-11-22T13:01:41.123000Z"}');
    assert.equal(new Date(t).getTime(), Date.parse('2026-11-22T13:01:41.123Z'));
  });
});
