// Migrating one revision for one step: the resources in scope join its progress, then each
// unfinished resource is rewritten slice by slice until done, out of budget, or the step is stopped
// (its Lease lost, its hard deadline passed: shared/core/step-stop.ts), the last checkpoint kept.
// A resource rekey may not list is learnt by name and handed to the state machine, never skipped;
// so is an apiserver that kept failing transiently (a brownout): the step ends, nothing failed.
// After a regression of the convergence gate (`again`), every resource is listed from the start
// once more, in the same save that clears the regression, so a second trigger does not restart it.
// Where etcd can be read, objects it already stores under the revision's key are not patched
// (`skipCurrent`), on resources the provider writes and never for a forced rewrite.
import type { ResourceCheckpoint } from '../domain/checkpoint.ts';
import type { ObjectFailure } from '../domain/migration-counts.ts';
import { relistResources, widenProgress } from '../domain/migration-progress.ts';
import { phaseFor, type Step } from '../domain/phase.ts';
import { isRevisionSecret } from '../domain/revision-secret.ts';
import { isRetryable } from '../ports/retryable.ts';
import { migrateSlice, type SkipCurrent } from './migrate-slice.ts';
import type { ActionResult, StepContext } from './step-context.ts';

export async function migrateRevision(
  ctx: StepContext,
  step: Extract<Step, { kind: 'migrate' }>,
): Promise<ActionResult> {
  const { session } = ctx;
  const scope = ctx.scope.resources.map((r) => r.resource);
  const r = session.revision;
  if (step.again) {
    await session.save(({ regressedAt: _, ...x }) => {
      const widened = widenProgress(x.progress, scope);
      // counts kept; failures judged afresh by the new listing, as a capped retry pass does
      const progress = relistResources(
        widened,
        widened.resources.map((cp) => cp.resource),
      );
      return { ...x, phase: phaseFor(step, x.phase), progress };
    });
    ctx.deps.log?.('migration passes again after a convergence regression', {
      revision: r.name,
      regressedAt: step.again.regressedAt,
    });
  } else if (
    widenProgress(r.progress, scope) !== r.progress ||
    r.phase !== phaseFor(step, r.phase)
  ) {
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
    // renewed at each checkpoint as well as on the timer: it also tells, before the next page,
    // whether the Lease is still ours. A renewal without an answer is no loss yet: the session's
    // lapse timer says when it becomes one
    const held = await ctx.lease.renew().catch(() => !ctx.lease.signal.aborted);
    return held && !ctx.stop.check();
  };
  try {
    const result = await migrateSlice({
      minPages,
      rewriter: deps.rewriter,
      checkpoint,
      failures: session.revision.progress.failed,
      clock: deps.clock,
      deadline: ctx.deadline,
      signal: ctx.stop.signal,
      abortAt: ctx.stop.abortAt,
      ...(config.pageSize ? { pageSize: config.pageSize } : {}),
      ...(config.concurrency ? { concurrency: config.concurrency } : {}),
      ...(deps.limit ? { limit: deps.limit } : {}),
      ...(session.revision.forced ? { forcedMarker: session.revision.name } : {}),
      ...skipCurrentFor(ctx, checkpoint.resource),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ownWrite: (ref) =>
        isRevisionSecret(checkpoint.resource, ref, {
          namespace: config.namespace,
          name: session.revision.name,
        }),
      onPage,
    });
    if (result.stoppedBy === 'done') return undefined;
    if (result.stoppedBy === 'budget') return { done: true, more: true };
    if (result.stoppedBy === 'unavailable') {
      return { done: false, learnt: { apiUnavailable: result.reason ?? 'no answer' } };
    }
    // work is left either way: a continuation finds the Lease busy if another runner took it over
    return { done: true, more: true, stopped: ctx.stop.check() ?? 'lease-lost' };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    // a list that kept failing transiently: the pages so far are checkpointed, the rest waits
    if (isRetryable(err)) return { done: false, learnt: { apiUnavailable: message } };
    // a list refused for good (403 without RBAC for it, 404 for a resource no longer served):
    // the revision will say so by name, instead of the step failing without a trace
    const listRefused = `cannot list ${checkpoint.resource}: ${message}`;
    return { done: false, learnt: { listRefused } };
  }
}

/**
 * The stale-skip for one resource, when it applies: etcd is readable, the provider writes the
 * resource (where it only reads, what its objects should move to is another provider's business,
 * so all are rewritten), and the revision is not a forced rewrite (its key_id does not change).
 */
function skipCurrentFor(ctx: StepContext, resource: string): { skipCurrent?: SkipCurrent } {
  const reader = ctx.deps.storedEncryption;
  const r = ctx.session.revision;
  const writes = ctx.scope.resources.some((s) => s.resource === resource && s.write);
  if (!reader || r.forced || !writes) return {};
  let told = false;
  return {
    skipCurrent: {
      reader,
      target: { provider: ctx.config.provider, key: { keyId: r.keyId, keyIdHash: r.keyIdHash } },
      onUnreadable: (reason) => {
        if (told) return;
        told = true;
        ctx.deps.log?.('etcd unreadable: pages are patched whole', { resource, reason });
      },
    },
  };
}
