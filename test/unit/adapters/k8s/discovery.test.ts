// API discovery (shared/adapters/k8s/discovery.ts) against a fake RestClient that answers /api,
// /api/v1, /apis, /apis/<group/version> and the APIService list like a small cluster.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DiscoveryError,
  isRewritable,
  listServedResources,
} from '../../../../shared/adapters/k8s/discovery.ts';
import type { RestClient, RestResponse } from '../../../../shared/adapters/k8s/rest-client.ts';

const rw = ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'];

function cluster(overrides: Record<string, RestResponse> = {}) {
  const answers: Record<string, unknown> = {
    '/api': { versions: ['v1'] },
    '/api/v1': {
      resources: [
        { name: 'secrets', namespaced: true, verbs: rw },
        { name: 'pods', namespaced: true, verbs: rw },
        { name: 'pods/status', namespaced: true, verbs: ['get', 'patch', 'update'] },
        { name: 'nodes', namespaced: false, verbs: rw },
        { name: 'bindings', namespaced: true, verbs: ['create'] },
        { name: 'componentstatuses', namespaced: false, verbs: ['get', 'list'] },
      ],
    },
    '/apis': {
      groups: [
        {
          name: 'apps',
          versions: [{ groupVersion: 'apps/v1', version: 'v1' }],
          preferredVersion: { groupVersion: 'apps/v1', version: 'v1' },
        },
        {
          name: 'example.com',
          versions: [
            { groupVersion: 'example.com/v1beta1', version: 'v1beta1' },
            { groupVersion: 'example.com/v1', version: 'v1' },
          ],
          preferredVersion: { groupVersion: 'example.com/v1', version: 'v1' },
        },
        {
          name: 'metrics.k8s.io',
          versions: [{ groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' }],
          preferredVersion: { groupVersion: 'metrics.k8s.io/v1beta1', version: 'v1beta1' },
        },
      ],
    },
    '/apis/apps/v1': {
      resources: [
        { name: 'deployments', namespaced: true, verbs: rw },
        { name: 'deployments/scale', namespaced: true, verbs: ['get', 'patch', 'update'] },
      ],
    },
    '/apis/example.com/v1': { resources: [{ name: 'widgets', namespaced: true, verbs: rw }] },
    '/apis/example.com/v1beta1': {
      resources: [
        { name: 'widgets', namespaced: true, verbs: ['get', 'list'] },
        { name: 'gadgets', namespaced: false, verbs: rw },
      ],
    },
    '/apis/metrics.k8s.io/v1beta1': {
      resources: [{ name: 'pods', namespaced: true, verbs: ['get', 'list'] }],
    },
    '/apis/apiregistration.k8s.io/v1/apiservices': {
      items: [
        { spec: { version: 'v1', service: null } },
        { spec: { group: 'apps', version: 'v1' } },
        {
          spec: {
            group: 'metrics.k8s.io',
            version: 'v1beta1',
            service: { name: 'metrics-server', namespace: 'kube-system' },
          },
        },
      ],
    },
  };
  const asked: string[] = [];
  const rest: Pick<RestClient, 'request'> = {
    async request({ path }) {
      asked.push(path);
      const override = overrides[path];
      if (override) return override;
      const body = answers[path];
      return body === undefined
        ? { status: 404, headers: {}, body: '{"kind":"Status","code":404}' }
        : { status: 200, headers: {}, body: JSON.stringify(body) };
    },
  };
  return { rest, asked };
}

describe('listServedResources', () => {
  it('lists every served resource once, without subresources, marking aggregated ones', async () => {
    const { rest } = cluster();
    const served = await listServedResources(rest);
    const brief = served.map(
      (r) => `${r.resource}.${r.group}@${r.version}${r.aggregated ? ' (aggregated)' : ''}`,
    );
    assert.deepEqual(brief.sort(), [
      'bindings.@v1',
      'componentstatuses.@v1',
      'deployments.apps@v1',
      'gadgets.example.com@v1beta1',
      'nodes.@v1',
      'pods.@v1',
      'pods.metrics.k8s.io@v1beta1 (aggregated)',
      'secrets.@v1',
      'widgets.example.com@v1',
    ]);
    const secrets = served.find((r) => r.resource === 'secrets');
    assert.deepEqual(secrets, {
      group: '',
      resource: 'secrets',
      version: 'v1',
      namespaced: true,
      verbs: rw,
      aggregated: false,
    });
    assert.equal(served.find((r) => r.resource === 'nodes')?.namespaced, false);
  });

  it('reports a resource in several versions from the preferred one', async () => {
    const served = await listServedResources(cluster().rest);
    const widgets = served.filter((r) => r.resource === 'widgets');
    assert.equal(widgets.length, 1);
    assert.equal(widgets[0]?.version, 'v1');
    assert.deepEqual(widgets[0]?.verbs, rw);
  });

  it('skips an aggregated group/version whose server does not answer', async () => {
    const down = { status: 503, headers: {}, body: 'service unavailable' };
    const { rest } = cluster({ '/apis/metrics.k8s.io/v1beta1': down });
    const served = await listServedResources(rest);
    assert.equal(
      served.some((r) => r.group === 'metrics.k8s.io'),
      false,
    );
    assert.ok(served.some((r) => r.resource === 'secrets'));
  });

  it('fails when a group/version stored here cannot be listed, rather than shrink the scope', async () => {
    const down = { status: 503, headers: {}, body: 'etcd leader changed' };
    const { rest } = cluster({ '/apis/example.com/v1beta1': down });
    await assert.rejects(listServedResources(rest), (err: Error) => {
      assert.ok(err instanceof DiscoveryError);
      assert.match(err.message, /example\.com\/v1beta1: HTTP 503/);
      return true;
    });
  });

  it('fails with a hint when the APIService list is forbidden', async () => {
    const forbidden = { status: 403, headers: {}, body: 'forbidden' };
    const { rest } = cluster({ '/apis/apiregistration.k8s.io/v1/apiservices': forbidden });
    await assert.rejects(listServedResources(rest), /HTTP 403 \(rekey needs get\/list/);
  });
});

describe('isRewritable', () => {
  it('keeps stored, listable, updatable resources only', async () => {
    const served = await listServedResources(cluster().rest);
    const names = served.filter(isRewritable).map((r) => `${r.resource}.${r.group}`);
    assert.deepEqual(names.sort(), [
      'deployments.apps',
      'gadgets.example.com',
      'nodes.',
      'pods.',
      'secrets.',
      'widgets.example.com',
    ]);
  });
});
