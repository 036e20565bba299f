// reconcileStep without a pinned provider: it follows the kms write provider the nodes' reported
// EncryptionConfigurations agree on (its revisions and Lease are that provider's), waits while
// they disagree, and a pinned REKEY_PROVIDER still wins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ReconcileConfig } from '../../../shared/core/deps.ts';
import { NoProviderError, requireProvider } from '../../../shared/core/followed-provider.ts';
import { reconcileStep } from '../../../shared/core/reconcile-step.ts';
import type { ReportedEncryptionConfig } from '../../../shared/ports/key-observer.ts';
import { A, asStep, harness } from '../../support/unit/reconcile-harness.ts';

const kms = (name: string) => ({ type: 'kms' as const, name, apiVersion: 'v2' });

function reading(node: string, ...writers: string[]): ReportedEncryptionConfig {
  return {
    node,
    hash: `sha256:${node}`,
    resources: [],
    entries: [{ resources: ['secrets'], providers: writers.map(kms) }],
  };
}

function unpinned(h: ReturnType<typeof harness>, readings: ReportedEncryptionConfig[]) {
  const { provider: _pinned, ...config } = h.config;
  const deps = { ...h.deps, configs: { read: async () => readings } };
  return { deps, config: config as ReconcileConfig };
}

describe('the provider a step follows', () => {
  it('follows the write provider every node reports: its revision, its Lease', async () => {
    const h = harness({ objects: 3 });
    h.observer.observations = [
      { provider: 'kms-b', keyId: 'k1', source: 'plugin-status', observedAt: h.clock.iso() },
    ];
    h.adoption.reports.set(A, 'k1');
    const { deps, config } = unpinned(h, [
      reading('cp-1', 'kms-b', 'kms-a'),
      reading('cp-2', 'kms-b', 'kms-a'),
    ]);
    const o = asStep(await reconcileStep(deps, config));
    assert.equal(o.provider, 'kms-b');
    assert.equal(o.revision, 'encryption-key-kms-b-1');
    assert.match(h.lock.calls.at(0) ?? '', /^acquire:rekey-kms-b:/);
  });

  it('waits, touching nothing, while the nodes name different write providers', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    const { deps, config } = unpinned(h, [
      reading('cp-1', 'kms-b', 'kms-a'),
      reading('cp-2', 'kms-a', 'kms-b'),
    ]);
    const o = await reconcileStep(deps, config);
    assert.equal(o.kind, 'no-provider');
    assert.ok(o.kind === 'no-provider');
    assert.equal(o.wait, true);
    assert.match(o.reason, /cp-1: kms-b; cp-2: kms-a/);
    assert.deepEqual(h.lock.calls, []);
    assert.deepEqual(h.store.all(), []);
    await assert.rejects(requireProvider(deps, config), (err: unknown) => {
      assert.ok(err instanceof NoProviderError);
      assert.equal(err.retryable, true);
      return true;
    });
  });

  it('answers unresolved (not a wait) when no kms provider writes', async () => {
    const h = harness({ objects: 3 });
    const { deps, config } = unpinned(h, [
      {
        ...reading('cp-1'),
        entries: [{ resources: ['secrets'], providers: [{ type: 'identity' }] }],
      },
    ]);
    const o = await reconcileStep(deps, config);
    assert.ok(o.kind === 'no-provider');
    assert.equal(o.wait, false);
  });

  it('a pinned provider is followed whatever the reports say', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    const deps = { ...h.deps, configs: { read: async () => [reading('cp-1', 'kms-b')] } };
    const o = asStep(await reconcileStep(deps, h.config));
    assert.equal(o.provider, h.config.provider);
  });
});
