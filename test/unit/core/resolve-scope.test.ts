// Which resources a step rewrites and proves: from the reported EncryptionConfiguration (with the
// apiserver's precedence when the report carries every entry), an override that says how it
// differs, or the default with the reason.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveScope, scopeFromReports } from '../../../shared/core/resolve-scope.ts';
import type { ReportedEncryptionConfig } from '../../../shared/ports/key-observer.ts';
import type { ServedResource } from '../../../shared/ports/served-resources.ts';

const ALL = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'];
const served = (group: string, resource: string, extra: Partial<ServedResource> = {}) => ({
  group,
  resource,
  namespaced: true,
  verbs: ALL,
  aggregated: false,
  ...extra,
});
const SERVED: ServedResource[] = [
  served('', 'secrets'),
  served('', 'configmaps'),
  served('', 'events'),
  served('apps', 'deployments'),
  served('apps', 'statefulsets'),
  served('example.com', 'widgets'),
  served('metrics.k8s.io', 'pods', { verbs: ['get', 'list'], aggregated: true }),
  served('custom.metrics.example', 'things', { aggregated: true }),
  served('authentication.k8s.io', 'tokenreviews', { verbs: ['create'], namespaced: false }),
];
const P = 'kms-p';
const report = (over: Partial<ReportedEncryptionConfig>): ReportedEncryptionConfig => ({
  node: 'n1',
  hash: 'sha256:aa',
  resources: [],
  ...over,
});
const names = (r: { resources: { resource: string; write: boolean }[] }) =>
  r.resources.map((x) => `${x.resource}${x.write ? '' : ' (read)'}`);

describe('scopeFromReports', () => {
  it('takes exact names and wildcards (by pattern, for reports without every entry)', () => {
    const r = scopeFromReports(
      [
        report({
          resources: [{ resources: ['secrets', 'widgets.example.com', '*.apps'], write: true }],
        }),
      ],
      SERVED,
      P,
    );
    assert.deepEqual(names(r), [
      'deployments.apps',
      'secrets',
      'statefulsets.apps',
      'widgets.example.com',
    ]);
  });

  it('*.* takes every rewritable, non-aggregated resource and says what it skipped', () => {
    const r = scopeFromReports(
      [report({ resources: [{ resources: ['*.*'], write: true }] })],
      SERVED,
      P,
    );
    assert.deepEqual(names(r), [
      'configmaps',
      'deployments.apps',
      'events',
      'secrets',
      'statefulsets.apps',
      'widgets.example.com',
    ]);
    assert.match(r.notes.join(), /skipped: .*pods\.metrics\.k8s\.io \(aggregated/);
    assert.match(r.notes.join(), /things\.custom\.metrics\.example/);
  });

  it('with every entry, an earlier exact entry for another provider wins over a wildcard', () => {
    const r = scopeFromReports(
      [
        report({
          resources: [{ resources: ['*.*'], write: true }],
          entries: [
            { resources: ['secrets'], providers: [{ type: 'aescbc' }] },
            { resources: ['*.*'], providers: [{ type: 'kms', name: P, apiVersion: 'v2' }] },
          ],
        }),
      ],
      SERVED,
      P,
    );
    assert.ok(!names(r).includes('secrets'), names(r).join());
    assert.ok(names(r).includes('configmaps'));
  });

  it('marks a resource where the provider only decrypts', () => {
    const r = scopeFromReports(
      [
        report({
          resources: [{ resources: ['secrets'], write: false }],
          entries: [
            {
              resources: ['secrets'],
              providers: [{ type: 'identity' }, { type: 'kms', name: P, apiVersion: 'v2' }],
            },
          ],
        }),
      ],
      SERVED,
      P,
    );
    assert.deepEqual(names(r), ['secrets (read)']);
  });

  it('says when apiservers report different configurations, and takes the union', () => {
    const r = scopeFromReports(
      [
        report({ resources: [{ resources: ['secrets'], write: true }] }),
        report({
          node: 'n2',
          hash: 'sha256:bb',
          resources: [{ resources: ['configmaps'], write: true }],
        }),
      ],
      SERVED,
      P,
    );
    assert.deepEqual(names(r), ['configmaps', 'secrets']);
    assert.match(r.notes.join(), /2 different EncryptionConfigurations/);
  });

  it('names an exact resource the cluster does not serve', () => {
    const r = scopeFromReports(
      [report({ resources: [{ resources: ['gadgets.example.com'], write: true }] })],
      SERVED,
      P,
    );
    assert.deepEqual(names(r), []);
    assert.match(r.notes.join(), /not served .*gadgets\.example\.com/);
  });
});

describe('resolveScope', () => {
  const servedPort = { list: async () => SERVED };
  const configs = [report({ resources: [{ resources: ['secrets', 'configmaps'], write: true }] })];

  it('uses the reports when nothing overrides them', async () => {
    const s = await resolveScope(
      { served: servedPort },
      { provider: P, encryptionConfigs: configs },
    );
    assert.equal(s.source, 'encryption-config');
    assert.deepEqual(names(s), ['configmaps', 'secrets']);
  });

  it('an override wins, and says how it differs from the reports', async () => {
    const s = await resolveScope(
      { served: servedPort },
      { provider: P, override: ['secrets', 'widgets.example.com'], encryptionConfigs: configs },
    );
    assert.equal(s.source, 'override');
    assert.deepEqual(names(s), ['secrets', 'widgets.example.com']);
    assert.deepEqual(s.differs, {
      onlyInOverride: ['widgets.example.com'],
      onlyInConfiguration: ['configmaps'],
    });
    assert.match(s.notes.join(), /REKEY_RESOURCES differs/);
  });

  it('without reports or override: secrets, and the reason', async () => {
    const s = await resolveScope({ served: servedPort }, { provider: P, encryptionConfigs: [] });
    assert.equal(s.source, 'default');
    assert.deepEqual(names(s), ['secrets']);
    assert.match(s.notes.join(), /ENCRYPTION_CONFIG_FILE/);
  });
});
