// The retry pass of a Degraded revision (docs/architecture.md R13): the objects the migration was
// refused and the in-scope objects the last etcd scan found under another key are re-patched, each
// found by name (shared/ports/object-lookup.ts); resources whose names were capped, or every
// resource when no lookup is wired, are listed again instead. Settled objects leave the failures,
// refused ones stay named, and the next pass is scheduled with backoff. Once it settled something,
// the last scan no longer says where those objects stand: it is dropped, so the state machine
// verifies again.
import pLimit from 'p-limit';
import {
  type MigrationProgress,
  type ObjectName,
  refuseObject,
  relistResources,
  settleObject,
} from '../domain/migration-progress.ts';
import type { Step } from '../domain/phase.ts';
import { planRetry } from '../domain/retry-plan.ts';
import { afterRetry } from '../domain/retry-schedule.ts';
import { isRevisionSecret } from '../domain/revision-secret.ts';
import { isRetryable } from '../ports/retryable.ts';
import { type FinalOutcome, rewriteObject } from './rewrite-object.ts';
import type { ActionResult, StepContext } from './step-context.ts';

/**
 * What one object came to; `unavailable`: the apiserver kept failing it transiently; `stopped`:
 * the step was stopped (its Lease lost, its deadline passed) before the answer came.
 */
type Settled =
  | { object: ObjectName; outcome: FinalOutcome }
  | { object: ObjectName; unavailable: string }
  | { object: ObjectName; stopped: true };

export async function retryObjects(
  ctx: StepContext,
  _step: Extract<Step, { kind: 'retry' }>,
): Promise<ActionResult> {
  const { deps, config, session } = ctx;
  const r = session.revision;
  const plan = planRetry({
    progress: r.progress,
    verification: r.verification,
    scope: ctx.scope.resources.map((x) => x.resource),
  });
  const { lookup } = deps;
  // without a lookup, a named object is found the only other way: listing its resource again
  const relist = lookup
    ? plan.relist
    : [...new Set([...plan.relist, ...plan.targets.map((t) => t.resource)])].sort();
  const targets = lookup ? plan.targets : [];
  const limit = pLimit(config.concurrency ?? 16);
  const settled = await Promise.all(targets.map((t) => limit(() => retryOne(ctx, t))));
  const stopped = ctx.stop.check();
  if (stopped || settled.some((s) => 'stopped' in s)) {
    // nothing saved: the pass is due again on the next step (a continuation finds the Lease busy
    // if another runner took it over)
    return { done: true, more: true, stopped: stopped ?? 'lease-lost' };
  }

  let progress: MigrationProgress = relistResources(r.progress, relist);
  let changed = relist.length > 0;
  let unavailable: string | undefined;
  for (const s of settled) {
    if ('stopped' in s) continue;
    if ('unavailable' in s) unavailable ??= s.unavailable;
    else if (typeof s.outcome === 'string') {
      progress = settleObject(progress, s.object, s.outcome);
      changed = true;
    } else if ('failed' in s.outcome) progress = refuseObject(progress, s.object, s.outcome.failed);
    else unavailable ??= s.outcome.exhausted;
  }
  const now = deps.clock.now();
  await session.save((x) => {
    const { verification, ...rest } = x;
    return {
      ...rest,
      ...(verification && !changed ? { verification } : {}),
      progress,
      retry: afterRetry(x.retry, { now }),
    };
  });
  deps.log?.('retry pass', {
    revision: r.name,
    objects: targets.length,
    relisted: relist,
    settled: settled.filter((s) => 'outcome' in s && typeof s.outcome === 'string').length,
  });
  return {
    done: false,
    learnt: { retried: true, ...(unavailable ? { apiUnavailable: unavailable } : {}) },
  };
}

/** Finds one object and re-patches it, as the migration would have. */
async function retryOne(ctx: StepContext, object: ObjectName): Promise<Settled> {
  const { deps, config, session } = ctx;
  const signal = ctx.stop.signal;
  if (signal.aborted) return { object, stopped: true };
  try {
    const ref = await deps.lookup?.find(object.resource, object.namespace, object.name, { signal });
    if (!ref) return { object, outcome: 'gone' };
    const { outcome } = await rewriteObject(
      {
        rewriter: deps.rewriter,
        signal,
        ...(session.revision.forced ? { forcedMarker: session.revision.name } : {}),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        ownWrite: (x) =>
          isRevisionSecret(object.resource, x, {
            namespace: config.namespace,
            name: session.revision.name,
          }),
      },
      object.resource,
      ref,
    );
    return { object, outcome };
  } catch (err) {
    if (signal.aborted) return { object, stopped: true };
    // a lookup that kept failing transiently waits for the next pass; one refused for good (no
    // `list` on the resource) is the object's refusal, by name
    const message = err instanceof Error ? err.message : String(err);
    if (isRetryable(err)) return { object, unavailable: message };
    return { object, outcome: { failed: `cannot find it: ${message}` } };
  }
}
