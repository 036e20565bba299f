// Where kube-apiserver stores each resource in etcd, and how an etcd key maps back to a resource:
// the group/resource helpers, every special prefix of the apiserver, custom etcd prefixes.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  formatGroupResource,
  type GroupResource,
  InvalidGroupResourceError,
  isBuiltInGroup,
  parseGroupResource,
} from '../../../shared/domain/group-resource.ts';
import {
  resourceForKey,
  storageGroupResource,
  storagePrefix,
} from '../../../shared/domain/storage-paths.ts';

const gr = (text: string): GroupResource => parseGroupResource(text);

describe('parseGroupResource / formatGroupResource', () => {
  const cases: Array<[string, GroupResource]> = [
    ['secrets', { group: '', resource: 'secrets' }],
    ['deployments.apps', { group: 'apps', resource: 'deployments' }],
    ['widgets.example.com', { group: 'example.com', resource: 'widgets' }],
    ['*.', { group: '', resource: '*' }],
    ['*.apps', { group: 'apps', resource: '*' }],
    ['*.*', { group: '*', resource: '*' }],
  ];
  for (const [text, expected] of cases) {
    it(`${text} round-trips`, () => {
      assert.deepEqual(parseGroupResource(text), expected);
      assert.equal(formatGroupResource(expected), text);
    });
  }

  it('rejects what names no resource', () => {
    for (const bad of ['', '.apps', 'pods/status']) {
      assert.throws(() => parseGroupResource(bad), InvalidGroupResourceError, bad);
    }
  });
});

describe('isBuiltInGroup', () => {
  it('knows the apiserver groups, and that CRD and APIService groups are stored with their group', () => {
    for (const g of [
      '',
      'apps',
      'batch',
      'networking.k8s.io',
      'resource.k8s.io',
      'events.k8s.io',
    ]) {
      assert.equal(isBuiltInGroup(g), true, g);
    }
    for (const g of ['apiextensions.k8s.io', 'apiregistration.k8s.io', 'example.com', 'k8s.io']) {
      assert.equal(isBuiltInGroup(g), false, g);
    }
  });
});

describe('storagePrefix', () => {
  const cases: Array<[string, string]> = [
    ['secrets', '/registry/secrets/'],
    ['configmaps', '/registry/configmaps/'],
    ['deployments.apps', '/registry/deployments/'],
    ['cronjobs.batch', '/registry/cronjobs/'],
    ['clusterroles.rbac.authorization.k8s.io', '/registry/clusterroles/'],
    ['widgets.example.com', '/registry/example.com/widgets/'],
    [
      'customresourcedefinitions.apiextensions.k8s.io',
      '/registry/apiextensions.k8s.io/customresourcedefinitions/',
    ],
    ['apiservices.apiregistration.k8s.io', '/registry/apiregistration.k8s.io/apiservices/'],
    // every special prefix of SpecialDefaultResourcePrefixes, and the cohabitants
    ['replicationcontrollers', '/registry/controllers/'],
    ['endpoints', '/registry/services/endpoints/'],
    ['nodes', '/registry/minions/'],
    ['services', '/registry/services/specs/'],
    ['ingresses.networking.k8s.io', '/registry/ingress/'],
    ['ingresses.extensions', '/registry/ingress/'],
    ['podsecuritypolicies.policy', '/registry/podsecuritypolicy/'],
    ['podsecuritypolicies.extensions', '/registry/podsecuritypolicy/'],
    ['events', '/registry/events/'],
    ['events.events.k8s.io', '/registry/events/'],
    ['deployments.extensions', '/registry/deployments/'],
  ];
  for (const [text, expected] of cases) {
    it(`${text} -> ${expected}`, () => assert.equal(storagePrefix(gr(text)), expected));
  }

  it('accepts the etcd prefix with or without slashes, and custom ones (k3s style)', () => {
    for (const prefix of ['/registry', '/registry/', 'registry', '//registry//']) {
      assert.equal(storagePrefix(gr('secrets'), prefix), '/registry/secrets/', prefix);
    }
    assert.equal(storagePrefix(gr('secrets'), '/kubernetes.io'), '/kubernetes.io/secrets/');
    assert.equal(
      storagePrefix(gr('widgets.example.com'), '/kubernetes.io/'),
      '/kubernetes.io/example.com/widgets/',
    );
    assert.equal(storagePrefix(gr('endpoints'), '/a/b'), '/a/b/services/endpoints/');
    assert.equal(storagePrefix(gr('secrets'), '/'), '/secrets/');
  });

  it('refuses wildcards, which have no single path', () => {
    for (const w of ['*.', '*.apps', '*.*']) {
      assert.throws(() => storagePrefix(gr(w)), InvalidGroupResourceError, w);
    }
  });

  it('maps cohabitants to the resource they are stored as', () => {
    assert.deepEqual(storageGroupResource(gr('events.events.k8s.io')), gr('events'));
    assert.deepEqual(storageGroupResource(gr('secrets')), gr('secrets'));
  });
});

describe('resourceForKey', () => {
  const candidates = [
    'services',
    'endpoints',
    'secrets',
    'deployments.apps',
    'widgets.example.com',
  ].map(gr);

  it('tells services/endpoints from services/specs', () => {
    assert.deepEqual(
      resourceForKey('/registry/services/endpoints/default/kubernetes', '/registry', candidates),
      gr('endpoints'),
    );
    assert.deepEqual(
      resourceForKey('/registry/services/specs/default/kubernetes', '/registry', candidates),
      gr('services'),
    );
  });

  it('prefers the longest matching prefix whatever the order of candidates', () => {
    // a built-in resource called `services` without its special prefix would own /registry/services/
    const nested = [{ group: 'example.com', resource: 'x' }, gr('endpoints')];
    const plain = { group: 'apps', resource: 'services' }; // stored as /registry/services/
    for (const list of [
      [plain, ...nested],
      [...nested, plain],
    ]) {
      assert.deepEqual(
        resourceForKey('/registry/services/endpoints/ns/n', '/registry', list),
        gr('endpoints'),
      );
      assert.deepEqual(resourceForKey('/registry/services/other/n', '/registry', list), plain);
    }
  });

  it('matches whole path segments, groups and custom prefixes', () => {
    assert.equal(resourceForKey('/registry/secretsx/ns/n', '/registry', candidates), undefined);
    assert.deepEqual(
      resourceForKey('/registry/deployments/ns/web', '/registry', candidates),
      gr('deployments.apps'),
    );
    assert.deepEqual(
      resourceForKey('/kubernetes.io/example.com/widgets/ns/w', '/kubernetes.io/', candidates),
      gr('widgets.example.com'),
    );
    assert.equal(
      resourceForKey('/registry/secrets/ns/n', '/kubernetes.io', candidates),
      undefined,
      'a key under another etcd prefix belongs to nothing',
    );
    assert.equal(resourceForKey('/registry/configmaps/ns/n', '/registry', candidates), undefined);
  });

  it('gives the first candidate when two share one path, and skips wildcards', () => {
    const shared = [gr('*.'), gr('events.events.k8s.io'), gr('events')];
    assert.deepEqual(
      resourceForKey('/registry/events/ns/e1', '/registry', shared),
      gr('events.events.k8s.io'),
    );
  });
});
