// The config-hash reader against fake apiservers behind one RestClient: each apiserver's own
// /metrics is read keeping only the encryption-config lines, live apiservers come from fresh
// identity Leases with their node, and a missing or failed scrape makes the snapshot unreadable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { IDENTITY_LEASE_SELECTOR } from '../../../../shared/adapters/apiserver-metrics/adoption-reader.ts';
import { createConfigHashReader } from '../../../../shared/adapters/apiserver-metrics/config-hash-reader.ts';
import type { RestClient, RestRequest } from '../../../../shared/adapters/k8s/rest-client.ts';
import { apiserverIdHash } from '../../../../shared/domain/convergence.ts';
import {
  AUTOMATIC_RELOADS_METRIC,
  LAST_CONFIG_INFO_METRIC,
} from '../../../../shared/domain/encryption-revisions/config-metrics.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const servers = [
  { lease: 'apiserver-a', node: 'n1', url: 'https://10.0.0.1:6443', hash: 'sha256:f1' },
  { lease: 'apiserver-b', node: 'n2', url: 'https://10.0.0.2:6443', hash: 'sha256:f2' },
];

function fake(opts: { metricsStatus?: number; staleB?: boolean } = {}) {
  const requests: RestRequest[] = [];
  const rest: RestClient = {
    async request(req) {
      requests.push(req);
      const s = servers.find((x) => x.url === req.server);
      if (!s) return { status: 0, headers: {}, body: '' };
      const id = apiserverIdHash(s.lease);
      const lines = [
        '# TYPE x gauge',
        `${LAST_CONFIG_INFO_METRIC}{apiserver_id_hash="${id}",hash="${s.hash}"} 1`,
        `${AUTOMATIC_RELOADS_METRIC}{apiserver_id_hash="${id}",status="failure"} 1`,
        'apiserver_request_total 1',
      ];
      const keep = req.keepLines ?? (() => true);
      return {
        status: opts.metricsStatus ?? 200,
        headers: {},
        body: lines.filter(keep).join('\n'),
      };
    },
    close() {},
  } as RestClient;
  const coordination = {
    async listNamespacedLease(args: { namespace: string; labelSelector?: string }) {
      assert.deepEqual(args, { namespace: 'kube-system', labelSelector: IDENTITY_LEASE_SELECTOR });
      return {
        items: servers.map((s, i) => ({
          metadata: { name: s.lease, labels: { 'kubernetes.io/hostname': s.node } },
          spec: {
            renewTime: new Date(NOW.getTime() - (opts.staleB && i === 1 ? 600_000 : 1_000)),
            leaseDurationSeconds: 3600,
          },
        })),
      };
    },
  };
  const reader = createConfigHashReader({
    rest,
    coordination: coordination as never,
    apiserverUrls: servers.map((s) => s.url),
    fallbackServer: 'https://lb:6443',
    clock: { now: () => NOW },
  });
  return { reader, requests };
}

describe('config-hash reader', () => {
  it('reports each live apiserver with its node, applied hash and reload failures', async () => {
    const { reader, requests } = fake();
    const snap = await reader.read();
    assert.deepEqual(snap, {
      readable: true,
      live: servers.map((s) => ({
        id: apiserverIdHash(s.lease),
        node: s.node,
        applied: s.hash,
        reloadFailures: 1,
      })),
    });
    const metrics = requests.filter((r) => r.path === '/metrics');
    assert.deepEqual(
      metrics.map((r) => r.server),
      servers.map((s) => s.url),
    );
    assert.ok(metrics.every((r) => r.keepLines && r.maxBodyBytes));
  });

  it('a stale identity Lease is not live', async () => {
    const snap = await fake({ staleB: true }).reader.read();
    assert.deepEqual(
      snap.live.map((s) => s.node),
      ['n1'],
    );
  });

  it('a failed scrape makes the snapshot unreadable, naming the apiserver', async () => {
    const snap = await fake({ metricsStatus: 403 }).reader.read();
    assert.equal(snap.readable, false);
    assert.match(snap.unreadableReason ?? '', /10\.0\.0\.1:6443: HTTP 403/);
    assert.match(snap.unreadableReason ?? '', /no configuration hash from n1, n2/);
  });
});
