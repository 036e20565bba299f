// The key-id reporter's liveness: one coordination.k8s.io Lease per (node, provider) in rekey's
// namespace, named like its report, renewed every tick. The report ConfigMap is written only when
// what it says changes, because the ApiServerSource watches it and every update is a reconcile
// step; nothing watches these Leases, so renewing them costs no step. rekey takes a report's last
// confirmation as the later of its `observedAt` and its Lease's renewTime.
import type { V1Lease } from '@kubernetes/client-node';
import { REPORT_MAX_AGE_MS } from '../../domain/report-freshness.ts';
import { providerLabel } from './revision-codec.ts';
import { type CoordinationApi, microTime } from './typed-api.ts';

/** Renews (or creates) the liveness Lease `name` with renewTime `atMs`, on behalf of `node`. */
export async function renewLiveness(
  api: Pick<CoordinationApi, 'replaceNamespacedLease' | 'createNamespacedLease'>,
  namespace: string,
  { name, node, provider, atMs }: { name: string; node: string; provider: string; atMs: number },
): Promise<void> {
  const body: V1Lease = {
    metadata: {
      name,
      namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'rekey',
        'app.kubernetes.io/component': 'key-id-reporter',
        'rekey.dev/provider': providerLabel(provider),
      },
    },
    spec: {
      holderIdentity: node,
      // for people reading it: rekey judges a report by its own maximum age
      leaseDurationSeconds: Math.round(REPORT_MAX_AGE_MS / 1000),
      renewTime: microTime(atMs),
    },
  };
  try {
    // an unconditional update: only this node's reporter writes this Lease
    await api.replaceNamespacedLease({ name, namespace, body });
  } catch (err) {
    if ((err as { code?: number }).code !== 404) throw err;
    await api.createNamespacedLease({ namespace, body });
  }
}

/**
 * The renewTime of the liveness Lease `name` (ISO 8601), or undefined when there is none or it
 * may not be read; rejects for other failures (the apiserver unavailable).
 */
export async function readLiveness(
  api: Pick<CoordinationApi, 'readNamespacedLease'>,
  namespace: string,
  name: string,
): Promise<string | undefined> {
  try {
    const lease = await api.readNamespacedLease({ name, namespace });
    const t = lease.spec?.renewTime;
    const ms = t === undefined ? Number.NaN : new Date(t).getTime();
    return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
  } catch (err) {
    // none (an older reporter, or not yet renewed), or an identity without `get` on Leases here:
    // the report is then judged by its own time, as before liveness Leases
    const code = (err as { code?: number }).code;
    if (code === 404 || code === 403) return undefined;
    throw err;
  }
}
