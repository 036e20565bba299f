// Migrating one revision for one step: the resources in scope join its progress, then each
// unfinished resource is rewritten slice by slice until done, out of budget, or the Lease is lost.
// A resource rekey may not list is recorded on the revision as a clear error, never skipped.
import type { ObjectFailure } from '../domain/migration-counts.ts';
import { widenProgress } from '../domain/migration-progress.ts';
import { isRetryable } from '../ports/retryable.ts';
import type { ReconcileConfig, ReconcileDeps } from './deps.ts';
import { migrateSlice } from './migrate-slice.ts';
import type { RevisionSession } from './revision-session.ts';

export type MigrationStop = 'done' | 'budget' | 'aborted' | { listFailed: string };

export async function migrateRevision({
  deps,
  config,
  session,
  scope,
  deadline,
  renewLease,
}: {
  deps: ReconcileDeps;
  config: ReconcileConfig;
  session: RevisionSession;
  /** The resources in scope now (re-derived every step). */
  scope: readonly string[];
  deadline: number;
  /** Renews the provider's Lease; false when it was lost. */
  renewLease: () => Promise<boolean>;
}): Promise<MigrationStop> {
  const widened = widenProgress(session.revision.progress, scope);
  if (widened !== session.revision.progress || session.revision.phase !== 'Migrating') {
    await session.save((x) => ({
      ...x,
      phase: 'Migrating',
      progress: widenProgress(x.progress, scope),
    }));
  }
  let first = true;
  for (const cp of session.revision.progress.resources) {
    if (cp.done) continue;
    const minPages = first ? 1 : 0;
    first = false;
    const onPage = async (checkpoint: typeof cp, failed: ObjectFailure[]) => {
      await session.save((x) => ({
        ...x,
        progress: {
          resources: x.progress.resources.map((p) =>
            p.resource === checkpoint.resource ? checkpoint : p,
          ),
          failed,
        },
      }));
      deps.onProgress?.(session.revision);
      return renewLease();
    };
    let result: Awaited<ReturnType<typeof migrateSlice>>;
    try {
      result = await migrateSlice({
        minPages,
        rewriter: deps.rewriter,
        checkpoint: cp,
        failures: session.revision.progress.failed,
        clock: deps.clock,
        deadline,
        ...(config.pageSize ? { pageSize: config.pageSize } : {}),
        ...(config.concurrency ? { concurrency: config.concurrency } : {}),
        ...(session.revision.forced ? { forcedMarker: session.revision.name } : {}),
        ownWrite: (ref) =>
          config.namespace !== undefined &&
          ref.namespace === config.namespace &&
          ref.name === session.revision.name,
        onPage,
      });
    } catch (err) {
      // a list refused for good (403 without RBAC for it, 404 for a resource no longer served):
      // the revision says so by name, instead of the step failing without a trace
      if (isRetryable(err)) throw err;
      return { listFailed: `cannot list ${cp.resource}: ${(err as Error).message}` };
    }
    if (result.stoppedBy !== 'done') return result.stoppedBy;
  }
  return 'done';
}
