// Migrating one revision for one step: the resources in scope join its progress, then each
// unfinished resource is rewritten slice by slice until done, out of budget, or the Lease is lost.
// A resource rekey may not list is learnt by name and handed to the state machine, never skipped.
import type { ResourceCheckpoint } from '../domain/checkpoint.ts';
import type { ObjectFailure } from '../domain/migration-counts.ts';
import { widenProgress } from '../domain/migration-progress.ts';
import { phaseFor, type Step } from '../domain/phase.ts';
import { isRetryable } from '../ports/retryable.ts';
import { migrateSlice } from './migrate-slice.ts';
import type { ActionResult, StepContext } from './step-context.ts';

export async function migrateRevision(
  ctx: StepContext,
  step: Extract<Step, { kind: 'migrate' }>,
): Promise<ActionResult> {
  const { session } = ctx;
  const scope = ctx.scope.resources.map((r) => r.resource);
  const r = session.revision;
  if (widenProgress(r.progress, scope) !== r.progress || r.phase !== phaseFor(step, r.phase)) {
    await session.save((x) => ({
      ...x,
      phase: phaseFor(step, x.phase),
      progress: widenProgress(x.progress, scope),
    }));
  }
  // no deadline check before the first slice: a step that got this far rewrites at least one page
  let minPages = 1;
  for (const cp of session.revision.progress.resources) {
    if (cp.done) continue;
    const stopped = await migrateResource(ctx, cp, minPages);
    minPages = 0;
    if (stopped) return stopped;
  }
  return { done: false };
}

/** One resource's slice; undefined when the resource is done and the next may start. */
async function migrateResource(
  ctx: StepContext,
  checkpoint: ResourceCheckpoint,
  minPages: number,
): Promise<ActionResult | undefined> {
  const { deps, config, session } = ctx;
  const onPage = async (cp: ResourceCheckpoint, failed: ObjectFailure[]) => {
    await session.save((x) => ({
      ...x,
      progress: {
        resources: x.progress.resources.map((p) => (p.resource === cp.resource ? cp : p)),
        failed,
      },
    }));
    deps.onProgress?.(session.revision);
    return ctx.lease.renew();
  };
  try {
    const result = await migrateSlice({
      minPages,
      rewriter: deps.rewriter,
      checkpoint,
      failures: session.revision.progress.failed,
      clock: deps.clock,
      deadline: ctx.deadline,
      ...(config.pageSize ? { pageSize: config.pageSize } : {}),
      ...(config.concurrency ? { concurrency: config.concurrency } : {}),
      ...(session.revision.forced ? { forcedMarker: session.revision.name } : {}),
      ownWrite: (ref) =>
        config.namespace !== undefined &&
        ref.namespace === config.namespace &&
        ref.name === session.revision.name,
      onPage,
    });
    return result.stoppedBy === 'done' ? undefined : { done: true, more: true };
  } catch (err) {
    // a list refused for good (403 without RBAC for it, 404 for a resource no longer served):
    // the revision will say so by name, instead of the step failing without a trace
    if (isRetryable(err)) throw err;
    const listRefused = `cannot list ${checkpoint.resource}: ${(err as Error).message}`;
    return { done: false, learnt: { listRefused } };
  }
}
