// The key-id reporter's liveness: one coordination.k8s.io Lease per (node, provider) in rekey's
// namespace, named like its report, renewed every tick. The report ConfigMap is written only when
// what it says changes, because the ApiServerSource watches it and every update is a reconcile
// step; nothing watches these Leases, so renewing them costs no step. rekey takes a report's last
// confirmation as the later of its `observedAt` and its Lease's renewTime.
import type { V1Lease } from '@kubernetes/client-node';
import { REPORT_MAX_AGE_MS } from '../../domain/report-freshness.ts';
import { providerLabel } from './revision-codec.ts';
import { type CoordinationApi, microTime } from './typed-api.ts';

export interface LivenessLease {
  name: string;
  node: string;
  provider: string;
}

/**
 * Renews (or creates) one liveness Lease: `renew(atMs)` sets its renewTime. Lease updates must
 * carry a resourceVersion, so the renewer keeps the one of its last write and reads the Lease again
 * only when it has none (the first tick, or after a conflict, which rejects: the next tick retries).
 */
export function createLivenessRenewer(
  api: Pick<
    CoordinationApi,
    'readNamespacedLease' | 'replaceNamespacedLease' | 'createNamespacedLease'
  >,
  namespace: string,
  { name, node, provider }: LivenessLease,
): (atMs: number) => Promise<void> {
  let resourceVersion: string | undefined;
  const body = (atMs: number, rv?: string): V1Lease => ({
    metadata: {
      name,
      namespace,
      ...(rv ? { resourceVersion: rv } : {}),
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
  });
  return async (atMs) => {
    try {
      if (resourceVersion === undefined) {
        try {
          resourceVersion = (await api.readNamespacedLease({ name, namespace })).metadata
            ?.resourceVersion;
        } catch (err) {
          if (code(err) !== 404) throw err;
          const created = await api.createNamespacedLease({ namespace, body: body(atMs) });
          resourceVersion = created.metadata?.resourceVersion;
          return;
        }
      }
      const replaced = await api.replaceNamespacedLease({
        name,
        namespace,
        body: body(atMs, resourceVersion),
      });
      resourceVersion = replaced.metadata?.resourceVersion;
    } catch (err) {
      resourceVersion = undefined;
      throw err;
    }
  };
}

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
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
    if (code(err) === 404 || code(err) === 403) return undefined;
    throw err;
  }
}
