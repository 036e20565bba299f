// The NodeConfigWrites port on key-id reports: each node agent in write mode says, in the
// `configWrite` field of its report, which configuration revision it wrote and the hash of the
// file. A node with several reports (one per plugin) is told by the newest that carries it.
import type { NodeConfigWrite, NodeConfigWrites } from '../../ports/config-revisions.ts';
import { readAllReports } from './key-id-reports.ts';
import type { CoreApi } from './typed-api.ts';

export function createNodeConfigWrites(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  { namespace }: { namespace: string },
): NodeConfigWrites {
  return {
    async list() {
      const newest = new Map<string, { at: string; write: NodeConfigWrite }>();
      for (const r of await readAllReports(api, namespace)) {
        if (!r.configWrite) continue;
        const seen = newest.get(r.node);
        if (seen && seen.at >= r.observedAt) continue;
        newest.set(r.node, { at: r.observedAt, write: { node: r.node, ...r.configWrite } });
      }
      return [...newest.values()].map((v) => v.write);
    },
  };
}
