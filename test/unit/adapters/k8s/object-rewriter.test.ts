// The ObjectRewriter over the REST client (shared/adapters/k8s/object-rewriter.ts): a 410 to an
// expired continue token passes on the token its Status carries (the apiserver's "inconsistent
// continue"), and every list and patch carries the caller's signal to the REST call.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createObjectRewriter } from '../../../../shared/adapters/k8s/object-rewriter.ts';
import type {
  RestClient,
  RestRequest,
  RestResponse,
} from '../../../../shared/adapters/k8s/rest-client.ts';

const DISCOVERY = JSON.stringify({
  resources: [{ name: 'secrets', namespaced: true, verbs: ['list', 'patch'] }],
});

/** Answers discovery, then `answer` for every other call, keeping what was sent. */
function fakeRest(answer: (req: RestRequest) => RestResponse) {
  const sent: RestRequest[] = [];
  const rest: RestClient = {
    async request(req) {
      if (req.path === '/api/v1') return { status: 200, headers: {}, body: DISCOVERY };
      sent.push(req);
      return answer(req);
    },
    close() {},
  };
  return { rest, sent };
}

/** The Status an apiserver answers an expired continue token with (k8s.io/apiserver etcd3). */
const expiredStatus = (token?: string) =>
  JSON.stringify({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: token ? { continue: token } : {},
    status: 'Failure',
    message: 'The provided continue parameter is too old to display a consistent list result.',
    reason: 'Expired',
    code: 410,
  });

describe('createObjectRewriter', () => {
  it('passes on the continue token a 410 carries', async () => {
    const { rest, sent } = fakeRest(() => ({
      status: 410,
      headers: {},
      body: expiredStatus('eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTF9'),
    }));
    const page = await createObjectRewriter(rest).listPage({
      resource: 'secrets',
      continueToken: 'old',
      limit: 50,
    });
    assert.deepEqual(page, {
      items: [],
      expired: true,
      continue: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6LTF9',
    });
    assert.deepEqual(sent[0]?.query, { limit: 50, continue: 'old' });
  });

  it('says only "expired" for a 410 without a token, or whose body is not a Status', async () => {
    for (const body of [expiredStatus(), 'Gone']) {
      const { rest } = fakeRest(() => ({ status: 410, headers: {}, body }));
      const page = await createObjectRewriter(rest).listPage({
        resource: 'secrets',
        continueToken: 'old',
        limit: 50,
      });
      assert.deepEqual(page, { items: [], expired: true }, body);
    }
  });

  it('hands the caller signal to the REST call of a list and of each patch', async () => {
    const { rest, sent } = fakeRest((req) =>
      req.method === 'PATCH'
        ? { status: 200, headers: {}, body: '{"metadata":{"resourceVersion":"8"}}' }
        : { status: 200, headers: {}, body: '{"items":[]}' },
    );
    const rewriter = createObjectRewriter(rest);
    const { signal } = new AbortController();
    const ref = { namespace: 'ns', name: 'n', uid: 'u', resourceVersion: '7' };
    await rewriter.listPage({ resource: 'secrets', limit: 1, signal });
    await rewriter.noOpPatch('secrets', ref, { signal });
    await rewriter.forcedPatch('secrets', ref, 'm', { signal });
    assert.deepEqual(
      sent.map((r) => [r.method ?? 'GET', r.signal === signal]),
      [
        ['GET', true],
        ['PATCH', true],
        ['PATCH', true],
      ],
    );
  });
});
