// The key observer for hosted control planes: the apiservers' metrics alone. Only a key_id hash
// every live apiserver reports as current is an observation (hash only, source apiserver-metrics);
// a rollout, a missing apiserver, unreadable metrics or no identity Lease is none. What the cloud
// KMS says is current is a label, asked once per new hash, and its failure costs only the label.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetricsKeyObserver } from '../../../../shared/adapters/apiserver-metrics/metrics-key-observer.ts';
import { apiserverIdHash } from '../../../../shared/domain/convergence.ts';
import { keyIdHash } from '../../../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../../../shared/domain/key-id-metrics.ts';
import type { AdoptionSnapshot } from '../../../../shared/ports/adoption-reader.ts';

const NOW = new Date('2025-01-01T01:00:00Z');
const clock = { now: () => NOW };
const A = apiserverIdHash('apiserver-a');
const B = apiserverIdHash('apiserver-b');
const K1 = keyIdHash('k1');
const K2 = keyIdHash('k2');

const sample = (
  apiserver: string,
  hash: string,
  timestamp = 1_700_000_000,
  provider = 'p',
): KeyIdStatusSample => ({
  providerName: provider,
  keyIdHash: hash,
  apiserverIdHash: apiserver,
  timestamp,
});

function snapshot(over: Partial<AdoptionSnapshot>): AdoptionSnapshot {
  return {
    liveApiservers: [A, B],
    samples: [],
    kmsUnhealthy: [],
    metricsReadable: true,
    endpoints: { source: 'configured', servers: ['https://a:6443', 'https://b:6443'] },
    ...over,
  };
}

function observer(
  snap: AdoptionSnapshot | (() => AdoptionSnapshot),
  kmsCurrent?: () => Promise<string>,
) {
  const logs: string[] = [];
  const o = createMetricsKeyObserver({
    adoption: { read: async () => (typeof snap === 'function' ? snap() : snap) },
    clock,
    kmsCurrent,
    log: (msg, fields) => logs.push(`${msg}: ${String(fields.reason ?? fields.error)}`),
  });
  return { o, logs };
}

describe('createMetricsKeyObserver', () => {
  it('every live apiserver reports the same hash: one hash-only observation from apiserver-metrics', async () => {
    const { o } = observer(snapshot({ samples: [sample(A, K2), sample(B, K2)] }));

    const seen = await o.observe('p');

    assert.deepEqual(seen.observations, [
      {
        provider: 'p',
        keyId: '',
        keyIdHash: K2,
        source: 'apiserver-metrics',
        observedAt: NOW.toISOString(),
      },
    ]);
    assert.deepEqual(seen.pluginHealth, { status: 'unknown' });
    assert.equal(seen.encryptionConfigs, undefined, 'metrics say nothing of the configuration');
  });

  it("takes each apiserver's newest series, and only the provider's", async () => {
    const { o } = observer(
      snapshot({
        samples: [
          sample(A, K1, 100),
          sample(A, K2, 200),
          sample(B, K2, 200),
          sample(B, K1, 300, 'other-provider'),
        ],
      }),
    );
    assert.equal((await o.observe('p')).observations[0]?.keyIdHash, K2);
  });

  const nothing: [string, AdoptionSnapshot, RegExp][] = [
    [
      'a rollout (apiservers disagree)',
      snapshot({ samples: [sample(A, K1), sample(B, K2)] }),
      /2 different keys/,
    ],
    ['a live apiserver without a sample', snapshot({ samples: [sample(A, K2)] }), /1 of 2 live/],
    [
      'unreadable metrics',
      snapshot({
        samples: [sample(A, K2), sample(B, K2)],
        metricsReadable: false,
        unreadableReason: 'HTTP 403',
      }),
      /unreadable: HTTP 403/,
    ],
    [
      'no identity Lease',
      snapshot({ liveApiservers: [], samples: [sample(A, K2)] }),
      /no live identity Lease/,
    ],
    [
      'another provider only',
      snapshot({ samples: [sample(A, K2, 1, 'q'), sample(B, K2, 1, 'q')] }),
      /report no key/,
    ],
  ];
  for (const [name, snap, why] of nothing) {
    it(`${name}: no observation, and the log says why`, async () => {
      const { o, logs } = observer(snap);
      const seen = await o.observe('p');
      assert.deepEqual(seen.observations, []);
      assert.match(logs.join('\n'), why);
    });
  }

  it('a failing read is no observation, not a failed step', async () => {
    const { o } = observer(() => {
      throw new Error('connection refused');
    });
    assert.deepEqual((await o.observe('p')).observations, []);
  });

  it('adds what the KMS says is current as a label, asked once per new hash', async () => {
    let asked = 0;
    let snap = snapshot({ samples: [sample(A, K1), sample(B, K1)] });
    const { o } = observer(
      () => snap,
      async () => `aws material m${++asked}`,
    );

    assert.equal((await o.observe('p')).observations[0]?.kmsLabel, 'aws material m1');
    assert.equal((await o.observe('p')).observations[0]?.kmsLabel, 'aws material m1');
    assert.equal(asked, 1);
    snap = snapshot({ samples: [sample(A, K2), sample(B, K2)] });
    const seen = (await o.observe('p')).observations[0];
    assert.equal(seen?.kmsLabel, 'aws material m2');
    assert.equal(seen?.keyId, '', 'the label is never taken for the key_id');
    assert.equal(seen?.keyIdHash, K2);
  });

  it('an unreachable KMS costs the label, not the observation', async () => {
    const { o, logs } = observer(
      snapshot({ samples: [sample(A, K2), sample(B, K2)] }),
      async () => {
        throw new Error('AccessDeniedException');
      },
    );
    const [seen] = (await o.observe('p')).observations;
    assert.equal(seen?.keyIdHash, K2);
    assert.equal(seen?.kmsLabel, undefined);
    assert.match(logs.join('\n'), /AccessDeniedException/);
  });
});
