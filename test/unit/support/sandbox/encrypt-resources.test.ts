// `sandbox up --encrypt`: the list is checked as kube-apiserver checks an EncryptionConfiguration
// (so a bad one fails at once, not as an apiserver that never gets ready), and only a named
// resource of a non-built-in group is turned into a CRD.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  customResourcesFor,
  EncryptResourcesError,
  parseEncryptList,
  singularOf,
  validateEncryptResources,
} from '../../../support/sandbox/encrypt-resources.ts';

describe('sandbox --encrypt list', () => {
  it('accepts core, grouped, custom and wildcard names, trimmed, in order', () => {
    assert.deepEqual(parseEncryptList('secrets, configmaps,deployments.apps,widgets.example.com'), [
      'secrets',
      'configmaps',
      'deployments.apps',
      'widgets.example.com',
    ]);
    assert.deepEqual(parseEncryptList('*.'), ['*.']);
    assert.deepEqual(parseEncryptList('*.apps,secrets'), ['*.apps', 'secrets']);
    assert.deepEqual(parseEncryptList('*.*'), ['*.*']);
  });

  for (const [list, why] of [
    ['', /empty entry/],
    ['secrets,', /empty entry/],
    ['Secrets', /lowercase/],
    ['*', /'\*\.' for every core resource/],
    ['serviceipallocations', /no REST API/],
    ['events.events.k8s.io', /core 'events'/],
    ['deployments.extensions', /removed/],
    ['secrets.*', /span groups/],
    ['widgets.example', /needs a dot/],
    ['my_widgets.example.com', /plural resource name/],
    ['widgets.Example.com', /lowercase/],
    ['widgets.-bad.com', /API group name/],
    ['secrets,secrets', /listed twice/],
    ['secrets,secrets.', /listed twice/],
    ['*.,secrets', /\*\. already covers secrets/],
    ['deployments.apps,*.apps', /\*\.apps already covers deployments\.apps/],
    ['*.*,widgets.example.com', /\*\.\* already covers/],
  ] as const) {
    it(`rejects ${JSON.stringify(list)}`, () => {
      assert.throws(
        () => parseEncryptList(list),
        (err: unknown) => err instanceof EncryptResourcesError && why.test(err.message),
      );
    });
  }

  it('rejects an empty list given programmatically', () => {
    assert.throws(() => validateEncryptResources([]), EncryptResourcesError);
  });

  it('lets unrelated groups and resources sit side by side', () => {
    assert.doesNotThrow(() => validateEncryptResources(['*.', '*.apps', 'widgets.example.com']));
  });
});

describe('sandbox --encrypt: which entries need a CRD', () => {
  it('a named resource of a non-built-in group, with kind = singular capitalised', () => {
    assert.deepEqual(customResourcesFor(['secrets', 'widgets.example.com', 'deployments.apps']), [
      {
        name: 'widgets.example.com',
        plural: 'widgets',
        group: 'example.com',
        singular: 'widget',
        kind: 'Widget',
      },
    ]);
  });

  it('never a built-in group, a k8s.io group or a wildcard', () => {
    assert.deepEqual(
      customResourcesFor([
        'secrets',
        'jobs.batch',
        'horizontalpodautoscalers.autoscaling',
        'poddisruptionbudgets.policy',
        'ingresses.networking.k8s.io',
        'roles.rbac.authorization.k8s.io',
        'gateways.gateway.networking.k8s.io',
        '*.example.com',
        '*.',
        '*.*',
      ]),
      [],
    );
  });

  it('names a hyphenated plural and irregular endings sensibly', () => {
    const [c] = customResourcesFor(['backup-policies.example.com']);
    assert.equal(c?.singular, 'backup-policy');
    assert.equal(c?.kind, 'BackupPolicy');
    assert.equal(singularOf('boxes'), 'box');
    assert.equal(singularOf('classes'), 'class');
    assert.equal(singularOf('gadgets'), 'gadget');
    assert.equal(singularOf('data'), 'data');
  });
});
