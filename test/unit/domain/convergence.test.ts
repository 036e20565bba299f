// The convergence gate: by metrics (every live apiserver, newest sample per apiserver, no sample or
// a failed kms-providers check = pending) and by the fallback wait (metrics unreadable, or no
// identity Leases: the live set unknown).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  apiserverIdHash,
  assessConvergence,
  type ConvergenceInput,
  type ConvergenceVerdict,
} from '../../../shared/domain/convergence.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../../shared/domain/key-id-metrics.ts';

const K1 = keyIdHash('k1');
const K2 = keyIdHash('k2');
const A = apiserverIdHash('apiserver-aaaa');
const B = apiserverIdHash('apiserver-bbbb');
const now = new Date('2025-01-01T00:10:00Z');

function sample(
  apiserver: string,
  key: string,
  timestamp = 100,
  provider = 'p',
): KeyIdStatusSample {
  return { providerName: provider, keyIdHash: key, apiserverIdHash: apiserver, timestamp };
}

function input(over: Partial<ConvergenceInput>): ConvergenceInput {
  return {
    keyIdHash: K2,
    provider: 'p',
    liveApiservers: [A, B],
    samples: [],
    metricsReadable: true,
    kmsUnhealthy: [],
    observedAt: '2025-01-01T00:08:00Z',
    now,
    ...over,
  };
}

const cases: { name: string; input: ConvergenceInput; want: Partial<ConvergenceVerdict> }[] = [
  {
    name: 'every live apiserver reports the key: converged by metrics',
    input: input({ samples: [sample(A, K2), sample(B, K2)] }),
    want: { converged: true, via: 'metrics', pending: [] },
  },
  {
    name: 'an apiserver without a sample is pending',
    input: input({ samples: [sample(A, K2)] }),
    want: { converged: false, via: 'none', pending: [B] },
  },
  {
    name: 'an apiserver still on the old key is pending',
    input: input({ samples: [sample(A, K2), sample(B, K1)] }),
    want: { converged: false, via: 'none', pending: [B] },
  },
  {
    name: "the newest series per apiserver wins (the old key's series stops being refreshed)",
    input: input({ samples: [sample(A, K1, 50), sample(A, K2, 110), sample(B, K2)] }),
    want: { converged: true, via: 'metrics', pending: [] },
  },
  {
    name: 'an apiserver that went back to the old key is pending',
    input: input({ samples: [sample(A, K2, 50), sample(A, K1, 110), sample(B, K2)] }),
    want: { converged: false, pending: [A] },
  },
  {
    name: "another provider's samples are not evidence",
    input: input({ samples: [sample(A, K2), sample(B, K2, 100, 'other')] }),
    want: { converged: false, pending: [B] },
  },
  {
    name: 'apiservers that are no longer live do not hold the gate',
    input: input({ liveApiservers: [A], samples: [sample(A, K2), sample(B, K1)] }),
    want: { converged: true, via: 'metrics' },
  },
  {
    name: 'duplicate Lease entries count once',
    input: input({ liveApiservers: [A, A], samples: [sample(A, K1)] }),
    want: { converged: false, pending: [A] },
  },
  {
    // one load-balanced scrape sees whichever apiserver answered: it cannot stand for the live set
    name: 'no Leases known: a scrape where every seen apiserver reports the key is no proof',
    input: input({ liveApiservers: [], samples: [sample(A, K2)] }),
    want: { converged: false, via: 'none', pending: [], waitRemainingMs: 3 * 60_000 },
  },
  {
    name: 'no Leases known: converged only by the fallback wait',
    input: input({
      liveApiservers: [],
      samples: [sample(A, K2), sample(B, K2)],
      observedAt: '2025-01-01T00:05:00Z',
    }),
    want: { converged: true, via: 'fallback-wait', pending: [] },
  },
  {
    name: 'nothing known at all: not converged while the wait runs',
    input: input({ liveApiservers: [], samples: [] }),
    want: { converged: false, via: 'none', pending: [] },
  },
  {
    // upstream records the Status metric before its DEK rotation, which can fail
    name: 'an apiserver that reports the key but fails its kms-providers check is pending',
    input: input({ samples: [sample(A, K2), sample(B, K2)], kmsUnhealthy: [B] }),
    want: { converged: false, via: 'none', pending: [B] },
  },
  {
    name: 'a failed kms-providers check of an apiserver that is no longer live does not hold the gate',
    input: input({ liveApiservers: [A], samples: [sample(A, K2)], kmsUnhealthy: [B] }),
    want: { converged: true, via: 'metrics', pending: [] },
  },
  {
    name: 'metrics unreadable, wait running: not converged, remaining time given',
    input: input({ metricsReadable: false, samples: [sample(A, K2), sample(B, K2)] }),
    want: { converged: false, via: 'none', pending: [A, B], waitRemainingMs: 3 * 60_000 },
  },
  {
    name: 'metrics unreadable, wait over: converged by the fallback wait',
    input: input({ metricsReadable: false, observedAt: '2025-01-01T00:05:00Z' }),
    want: { converged: true, via: 'fallback-wait', pending: [] },
  },
  {
    name: 'the fallback wait is configurable and takes a Date',
    input: input({
      metricsReadable: false,
      observedAt: new Date('2025-01-01T00:09:00Z'),
      fallbackWaitMs: 60_000,
    }),
    want: { converged: true, via: 'fallback-wait' },
  },
  {
    name: 'an invalid observation time never converges by waiting',
    input: input({ metricsReadable: false, observedAt: 'yesterday-ish' }),
    want: {
      converged: false,
      via: 'none',
      reason: 'apiserver metrics unreadable and the observation time is invalid',
    },
  },
];

describe('assessConvergence', () => {
  for (const c of cases) {
    it(c.name, () => {
      const got = assessConvergence(c.input);
      const picked = Object.fromEntries(
        Object.keys(c.want).map((k) => [k, got[k as keyof typeof got]]),
      );
      assert.deepEqual(picked, c.want);
      assert.ok(got.reason.length > 0);
    });
  }

  it('says why each pending apiserver is pending', () => {
    const got = assessConvergence(input({ samples: [sample(B, K1)] }));
    assert.match(got.reason, /^2 of 2 live apiserver\(s\) have not adopted key sha256:/);
    assert.match(got.reason, /\(no sample\)/);
    assert.match(got.reason, /\(reports sha256:/);
  });

  it('shows short identities whole', () => {
    const got = assessConvergence(input({ liveApiservers: ['a'], samples: [] }));
    assert.match(got.reason, /: a \(no sample\)$/);
  });

  it('says that without identity Leases the live set is unknown, waiting or not', () => {
    const waiting = assessConvergence(input({ liveApiservers: [], samples: [sample(A, K2)] }));
    assert.match(
      waiting.reason,
      /^no live identity Lease in kube-system, so the set of apiservers is unknown .*: waiting 180s more/,
    );
    const done = assessConvergence(input({ liveApiservers: [], fallbackWaitMs: 0 }));
    assert.match(done.reason, /^no live identity Lease .*: assumed adopted .* \(not proven\)$/);
  });

  it('says which pending apiserver fails its kms-providers check', () => {
    const got = assessConvergence(
      input({ samples: [sample(A, K2), sample(B, K2)], kmsUnhealthy: [B] }),
    );
    assert.match(got.reason, /^1 of 2 live apiserver\(s\) have not adopted key sha256:/);
    assert.match(got.reason, /\(reports sha256:[0-9a-f]+, its kms-providers check fails\)$/);
  });

  it('says that metrics were unreadable, waiting or not', () => {
    const waiting = assessConvergence(input({ metricsReadable: false }));
    assert.match(waiting.reason, /metrics unreadable: waiting 180s more of the 300s fallback wait/);
    const done = assessConvergence(input({ metricsReadable: false, fallbackWaitMs: 0 }));
    assert.match(done.reason, /metrics unreadable: assumed adopted .* \(not proven\)/);
  });
});

describe('apiserverIdHash', () => {
  it('is sha256: + hex(sha256(lease name))', () => {
    assert.equal(
      apiserverIdHash('1'),
      'sha256:6b86b273ff34fce19d6b804eff5a3f5747ada4eaa22f1d49c01e52ddb7875b4b',
    );
    assert.equal(
      apiserverIdHash(''),
      'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
    );
  });
});
