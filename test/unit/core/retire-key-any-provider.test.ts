// `rekey keys --retire <key_id>` after a switch from kms provider p1 to p2: the followed provider is
// p2, yet values still wrapped by K1 under p1 (or an apiserver still reporting K1 for p1) make K1
// in use, naming p1; it is retirable only when no provider's value and no apiserver needs it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { checkRetire } from '../../../shared/core/retire-key.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../../shared/domain/key-id-metrics.ts';
import type { ScannedValue } from '../../../shared/domain/proof.ts';
import type { AdoptionReader } from '../../../shared/ports/adoption-reader.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';

const adoption = (samples: KeyIdStatusSample[] = []): AdoptionReader => ({
  async read() {
    return {
      liveApiservers: ['a1'],
      samples,
      kmsUnhealthy: [],
      metricsReadable: true,
      endpoints: { source: 'configured', servers: [] },
    };
  },
  async hurry() {},
});

const scanner = (values: ScannedValue[]) => ({
  prefix: '/registry',
  async *values() {
    yield* values;
  },
});

const store = () =>
  createMemoryRevisionStore([rev({ number: 1, keyId: 'k2', phase: 'Completed' })]);

const underP1: ScannedValue[] = [
  { key: '/registry/secrets/a/s1', kind: 'kms-v2', provider: 'p1', keyID: 'k1' },
  { key: '/registry/secrets/a/s2', kind: 'kms-v2', provider: 'p1', keyID: 'k1' },
  { key: '/registry/secrets/a/s3', kind: 'kms-v2', provider: 'p2', keyID: 'k2' },
];

describe('checkRetire looks at every kms provider, not only the followed one', () => {
  it('values under another provider wrapped by the key_id: in use, naming that provider', async () => {
    const r = await checkRetire(
      { adoption: adoption(), store: store(), scanner: scanner(underP1) },
      { provider: 'p2', keyId: 'k1' },
    );
    assert.equal(r.result.verdict, 'in-use');
    assert.ok(r.result.verdict === 'in-use');
    assert.equal(r.result.objectCount, 2);
    assert.deepEqual(r.result.objects, ['secrets/a/s1', 'secrets/a/s2']);
    assert.deepEqual(r.result.providers, ['p1']);
  });

  it('an apiserver reporting the key_id for another provider: in use, naming it', async () => {
    const samples: KeyIdStatusSample[] = [
      { providerName: 'p1', keyIdHash: keyIdHash('k1'), apiserverIdHash: 'a1', timestamp: 1 },
      { providerName: 'p2', keyIdHash: keyIdHash('k2'), apiserverIdHash: 'a1', timestamp: 1 },
    ];
    const values: ScannedValue[] = [
      { key: '/registry/secrets/a/s3', kind: 'kms-v2', provider: 'p2', keyID: 'k2' },
    ];
    const r = await checkRetire(
      { adoption: adoption(samples), store: store(), scanner: scanner(values) },
      { provider: 'p2', keyId: 'k1' },
    );
    assert.equal(r.result.verdict, 'in-use');
    assert.ok(r.result.verdict === 'in-use');
    assert.equal(r.result.objectCount, 0);
    assert.deepEqual(r.result.apiservers, ['a1']);
    assert.deepEqual(r.result.providers, ['p1']);
  });

  it('found under several providers: names each once, sorted', async () => {
    const values: ScannedValue[] = [
      ...underP1,
      { key: '/registry/configmaps/a/c', kind: 'kms-v1', provider: 'p0', keyID: 'k1' },
    ];
    const r = await checkRetire(
      { adoption: adoption(), store: store(), scanner: scanner(values) },
      { provider: 'p2', keyId: 'k1' },
    );
    assert.ok(r.result.verdict === 'in-use', JSON.stringify(r.result));
    assert.equal(r.result.objectCount, 3);
    assert.deepEqual(r.result.providers, ['p0', 'p1']);
  });

  it('no provider wraps it and no apiserver reports it: retirable', async () => {
    const r = await checkRetire(
      { adoption: adoption(), store: store(), scanner: scanner(underP1) },
      { provider: 'p2', keyId: 'k0' },
    );
    assert.deepEqual(r.result, { verdict: 'retirable' });
  });

  it('answers without a followed provider (none can be followed during a switch)', async () => {
    const r = await checkRetire(
      { adoption: adoption(), store: store(), scanner: scanner(underP1) },
      { keyId: 'k1' },
    );
    assert.ok(r.result.verdict === 'in-use', JSON.stringify(r.result));
    assert.deepEqual(r.result.providers, ['p1']);
    assert.equal(r.provider, undefined);
  });
});
