// rekey's storage-path mapping against a real kube-apiserver that encrypts everything (`*.*`): for
// every resource the apiserver serves and rekey could rewrite, the number of etcd keys under
// storagePrefix() equals the number of objects the API lists. A wrong path (a group where the
// apiserver puts none, a missed exception such as services/specs or controllers) reads fewer.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { AppsV1Api, NetworkingV1Api, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { listServedResources } from '../../shared/adapters/k8s/discovery.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { formatGroupResource } from '../../shared/domain/group-resource.ts';
import { storagePrefix } from '../../shared/domain/storage-paths.ts';
import { connection, coreApi, kubeConfig } from '../support/kube.ts';
import { apiserverGet } from '../support/sandbox/apiserver-http.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { ensureNamespace } from '../support/secrets.ts';

const NS = 'paths';

describe('storage paths on a real apiserver encrypting *.*', () => {
  let sb: TestSandbox;
  let etcd: Etcd3;
  before(async () => {
    sb = await startSandbox({ encrypt: ['*.*'] });
    etcd = new Etcd3({ hosts: sb.env.etcd.url });
    const kc = kubeConfig(sb.env);
    const core = coreApi(sb.env);
    await ensureNamespace(core, NS);
    // one object of each resource whose path is an exception, and a grouped built-in of each kind
    await core.createNamespacedService({
      namespace: NS,
      body: { metadata: { name: 'svc' }, spec: { ports: [{ port: 80 }] } },
    });
    await core.createNamespacedEndpoints({
      namespace: NS,
      body: { metadata: { name: 'ep' }, subsets: [] },
    });
    await core.createNamespacedReplicationController({
      namespace: NS,
      body: {
        metadata: { name: 'rc' },
        spec: {
          replicas: 0,
          selector: { app: 'rc' },
          template: {
            metadata: { labels: { app: 'rc' } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      },
    });
    await core.createNode({ body: { metadata: { name: 'node-a' } } });
    await kc.makeApiClient(AppsV1Api).createNamespacedDeployment({
      namespace: NS,
      body: {
        metadata: { name: 'dep' },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: 'dep' } },
          template: {
            metadata: { labels: { app: 'dep' } },
            spec: { containers: [{ name: 'c', image: 'busybox' }] },
          },
        },
      },
    });
    await kc.makeApiClient(NetworkingV1Api).createNamespacedIngress({
      namespace: NS,
      body: {
        metadata: { name: 'ing' },
        spec: { defaultBackend: { service: { name: 'svc', port: { number: 80 } } } },
      },
    });
    await kc.makeApiClient(RbacAuthorizationV1Api).createNamespacedRole({
      namespace: NS,
      body: { metadata: { name: 'role' }, rules: [] },
    });
  });
  after(async () => {
    etcd?.close();
    await sb?.stop();
  });

  async function etcdCount(prefix: string): Promise<number> {
    return etcd.getAll().prefix(prefix).count();
  }

  async function apiCount(path: string, token: string): Promise<number> {
    let r = await apiserverGet(sb.env.apiservers[0] as never, path, token);
    // a custom resource whose storage is still initializing (infra/'s CRDs are new) answers 429
    // with Retry-After until it is ready: wait for that state
    for (let waited = 0; r.status === 429 && waited < 60; waited++) {
      await new Promise((res) => setTimeout(res, 1000));
      r = await apiserverGet(sb.env.apiservers[0] as never, path, token);
    }
    assert.equal(r.status, 200, `${path}: ${r.body.slice(0, 200)}`);
    return ((JSON.parse(r.body) as { items?: unknown[] }).items ?? []).length;
  }

  it('finds every listed object of every rewritable resource under its storage prefix', async (t) => {
    const token = readFileSync(sb.env.tokens.adminFile, 'utf8').trim();
    const rest = createRestClient(connection(sb.env));
    const served = await listServedResources(rest);
    rest.close();
    const rewritable = served.filter(
      (r) =>
        !r.aggregated &&
        r.verbs.includes('list') &&
        (r.verbs.includes('patch') || r.verbs.includes('update')),
    );
    assert.ok(rewritable.length > 30, `${rewritable.length} resources`);
    const checked: string[] = [];
    const problems: string[] = [];
    for (const r of rewritable) {
      const name = formatGroupResource(r);
      if (name === 'events.events.k8s.io') continue; // stored with core events: counted there
      const base = r.group === '' ? '/api/v1' : `/apis/${r.group}/${r.version}`;
      const prefix = storagePrefix(r, sb.env.etcd.prefix);
      // objects move on between the two reads (leases renew, events come): wait for agreement
      let listed = -1;
      let stored = -2;
      for (let attempt = 0; attempt < 10 && listed !== stored; attempt++) {
        listed = await apiCount(`${base}/${r.resource}`, token);
        stored = await etcdCount(prefix);
        if (listed !== stored) await new Promise((res) => setTimeout(res, 300));
      }
      if (listed !== stored)
        problems.push(`${name}: API lists ${listed}, ${prefix} holds ${stored}`);
      if (listed > 0) checked.push(`${name}=${listed}`);
    }
    t.diagnostic(`non-empty resources checked: ${checked.join(' ')}`);
    assert.deepEqual(problems, []);
    for (const must of [
      'services',
      'endpoints',
      'replicationcontrollers',
      'nodes',
      'deployments.apps',
      'ingresses.networking.k8s.io',
      'roles.rbac.authorization.k8s.io',
      'namespaces',
    ]) {
      assert.ok(
        checked.some((c) => c.startsWith(`${must}=`)),
        `${must} had objects to check: ${checked.join(' ')}`,
      );
    }
  });
});
