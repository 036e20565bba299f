// The NodeConfigWrites port on key-id reports: each node agent in write mode says, in the
// `configWrite` field of its report, which configuration revision it wrote and the hash of the
// file. A node with several reports (one per plugin) is told by the newest that carries it. With
// `leases`, each write also says when its agent last confirmed it (its liveness Lease, as
// report-key-observer.ts reads it), so a stopped agent can be told from one that is waiting.
import { lastConfirmedMs } from '../../domain/report-freshness.ts';
import type { NodeConfigWrite, NodeConfigWrites } from '../../ports/config-revisions.ts';
import { type KeyIdReport, readAllReports, reportName } from './key-id-reports.ts';
import { readLiveness } from './report-liveness.ts';
import type { CoordinationApi, CoreApi } from './typed-api.ts';

export function createNodeConfigWrites(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  {
    namespace,
    leases,
  }: { namespace: string; leases?: Pick<CoordinationApi, 'readNamespacedLease'> | undefined },
): NodeConfigWrites {
  const confirmedAt = async (r: KeyIdReport): Promise<string | undefined> => {
    // only the Lease named like the report is its liveness
    const own = reportName(r.node, r.provider);
    const renewed =
      leases && r.livenessLease === own ? await readLiveness(leases, namespace, own) : undefined;
    const ms = lastConfirmedMs(r.observedAt, renewed);
    return ms === undefined ? undefined : new Date(ms).toISOString();
  };
  return {
    async list() {
      const newest = new Map<
        string,
        KeyIdReport & { configWrite: NonNullable<KeyIdReport['configWrite']> }
      >();
      for (const r of await readAllReports(api, namespace)) {
        if (!r.configWrite) continue;
        const seen = newest.get(r.node);
        if (seen && seen.observedAt >= r.observedAt) continue;
        newest.set(r.node, { ...r, configWrite: r.configWrite });
      }
      return Promise.all(
        [...newest.values()].map(async (r): Promise<NodeConfigWrite> => {
          const at = leases ? await confirmedAt(r) : undefined;
          return { node: r.node, ...r.configWrite, ...(at ? { confirmedAt: at } : {}) };
        }),
      );
    },
  };
}
