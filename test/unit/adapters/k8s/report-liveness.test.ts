// The reporter's liveness Lease against an in-memory Lease API that, like the apiserver, refuses
// an update without the current resourceVersion.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import {
  createLivenessRenewer,
  readLiveness,
} from '../../../../shared/adapters/k8s/report-liveness.ts';
import type { CoordinationApi } from '../../../../shared/adapters/k8s/typed-api.ts';

type LeaseApi = Pick<
  CoordinationApi,
  'readNamespacedLease' | 'replaceNamespacedLease' | 'createNamespacedLease'
>;

function leases() {
  const stored = new Map<string, V1Lease>();
  let version = 0;
  const fail = (code: number) => Object.assign(new Error(`HTTP ${code}`), { code });
  const save = (body: V1Lease) => {
    const saved = JSON.parse(JSON.stringify(body)) as V1Lease;
    saved.metadata = { ...saved.metadata, resourceVersion: String(++version) };
    stored.set(saved.metadata.name ?? '', saved);
    return saved;
  };
  const api = {
    async readNamespacedLease({ name }: { name: string }) {
      const l = stored.get(name);
      if (!l) throw fail(404);
      return l;
    },
    async createNamespacedLease({ body }: { body: V1Lease }) {
      if (stored.has(body.metadata?.name ?? '')) throw fail(409);
      return save(body);
    },
    async replaceNamespacedLease({ name, body }: { name: string; body: V1Lease }) {
      const l = stored.get(name);
      if (!l) throw fail(404);
      if (!body.metadata?.resourceVersion) throw fail(422);
      if (body.metadata.resourceVersion !== l.metadata?.resourceVersion) throw fail(409);
      return save(body);
    },
  };
  return { stored, api: api as unknown as LeaseApi };
}

const T = Date.parse('2030-01-02T03:04:05.000Z');
const LEASE = { name: 'key-id-report-cp-0-kms-a', node: 'cp-0', provider: 'kms-a' };

describe('liveness Lease', () => {
  it('creates the Lease, then renews it with the resourceVersion of its last write', async () => {
    const { stored, api } = leases();
    const renew = createLivenessRenewer(api, 'rekey-system', LEASE);
    for (let i = 0; i < 4; i++) await renew(T + i * 15_000);
    const l = stored.get(LEASE.name);
    assert.equal(l?.spec?.holderIdentity, 'cp-0');
    assert.equal(l?.metadata?.labels?.['app.kubernetes.io/component'], 'key-id-reporter');
    assert.equal(
      await readLiveness(api, 'rekey-system', LEASE.name),
      new Date(T + 45_000).toISOString(),
    );
  });

  it('recovers from a conflict on the next renewal, reading the Lease again', async () => {
    const { stored, api } = leases();
    const renew = createLivenessRenewer(api, 'rekey-system', LEASE);
    await renew(T);
    // someone else wrote it meanwhile (a second reporter process during a rollout)
    const other = stored.get(LEASE.name) as V1Lease;
    stored.set(LEASE.name, { ...other, metadata: { ...other.metadata, resourceVersion: '99' } });
    await assert.rejects(renew(T + 15_000), /409/);
    await renew(T + 30_000);
    assert.equal(
      await readLiveness(api, 'rekey-system', LEASE.name),
      new Date(T + 30_000).toISOString(),
    );
  });

  it('reads no liveness for a Lease that is not there or may not be read', async () => {
    const { api } = leases();
    assert.equal(await readLiveness(api, 'rekey-system', 'absent'), undefined);
    const forbidden = {
      readNamespacedLease: async () => {
        throw Object.assign(new Error('forbidden'), { code: 403 });
      },
    } as unknown as LeaseApi;
    assert.equal(await readLiveness(forbidden, 'rekey-system', LEASE.name), undefined);
    const down = {
      readNamespacedLease: async () => {
        throw Object.assign(new Error('unavailable'), { code: 503 });
      },
    } as unknown as LeaseApi;
    await assert.rejects(readLiveness(down, 'rekey-system', LEASE.name), /unavailable/);
  });
});
