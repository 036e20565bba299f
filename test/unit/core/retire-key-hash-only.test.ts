// `rekey keys --retire` where the newest revision holds only a key_id hash (a hosted control plane):
// without etcd it cannot tell, and says plainly why; with etcd it answers from the values as ever.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { checkRetire } from '../../../shared/core/retire-key.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { ScannedValue } from '../../../shared/domain/proof.ts';
import type { AdoptionReader } from '../../../shared/ports/adoption-reader.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';

const adoption: AdoptionReader = {
  async read() {
    return {
      liveApiservers: [],
      samples: [],
      kmsUnhealthy: [],
      metricsReadable: true,
      endpoints: { source: 'configured', servers: [] },
    };
  },
  async hurry() {},
};

const store = () =>
  createMemoryRevisionStore([
    rev({ number: 1, keyId: 'k1', phase: 'Completed' }),
    rev({
      number: 2,
      keyId: '',
      keyIdHash: keyIdHash('k2'),
      source: 'apiserver-metrics',
      phase: 'Completed',
    }),
  ]);

describe('checkRetire with a hash-only newest revision', () => {
  it('without etcd: cannot tell, naming the hosted control plane and the missing etcd access', async () => {
    const r = await checkRetire({ adoption, store: store() }, { provider: 'p', keyId: 'k1' });
    assert.equal(r.result.verdict, 'unknown');
    assert.match(
      r.result.verdict === 'unknown' ? r.result.reason : '',
      /REKEY_ETCD_ENDPOINTS.*encryption-key-p-2 was recorded from the apiservers' metrics \(key_id hash only\).*hosted control plane/,
    );
  });

  it('with etcd: answers from the values', async () => {
    const values: ScannedValue[] = [
      { key: '/registry/secrets/a/s', kind: 'kms-v2', provider: 'p', keyID: 'k1' },
    ];
    const scanner = {
      prefix: '/registry',
      async *values() {
        yield* values;
      },
    };
    const r = await checkRetire(
      { adoption, store: store(), scanner },
      { provider: 'p', keyId: 'k1' },
    );
    assert.equal(r.result.verdict, 'in-use');
  });
});
