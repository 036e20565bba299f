// What each step the state machine decides does to the revision, apart from migrating
// (shared/core/migrate-revision.ts): wait for adoption, verify from etcd, complete, degrade. Each
// stores exactly the phase phaseFor(step) gives; none decides a phase of its own.
import { phaseFor, type Step } from '../domain/phase.ts';
import { firstRetry } from '../domain/retry-schedule.ts';
import type { Revision, RevisionConvergence } from '../domain/revision.ts';
import { pruneRevisions } from './prune-revisions.ts';
import { emitRevisionEvent } from './revision-events.ts';
import type { ActionResult, StepContext } from './step-context.ts';

type StepOf<K extends Step['kind']> = Extract<Step, { kind: K }>;

export async function waitForConvergence(
  ctx: StepContext,
  step: StepOf<'wait-convergence'>,
  convergence: RevisionConvergence,
): Promise<ActionResult> {
  await ctx.deps.adoption.hurry();
  const r = ctx.session.revision;
  const regressed = regression(ctx, step);
  // write only when something a reader cares about changed: an unchanged wait rewritten on every
  // trigger would itself trigger watchers of the revision, in a loop
  if (
    r.phase !== phaseFor(step, r.phase) ||
    !sameVerdict(r.convergence, convergence) ||
    regressed
  ) {
    await ctx.session.save((x) => ({
      ...x,
      phase: phaseFor(step, x.phase),
      convergence,
      ...(regressed && !x.regressedAt ? { regressedAt: regressed } : {}),
    }));
  }
  return { done: true, more: true };
}

/** Scans etcd; an unavailable scan is learnt, and the state machine says what it means. */
export async function verify(ctx: StepContext, step: StepOf<'verify'>): Promise<ActionResult> {
  await ctx.session.save((x) => ({ ...x, phase: phaseFor(step, x.phase) }));
  const scan = await ctx.deps.verifier?.scan({
    scope: ctx.scope.resources,
    provider: ctx.config.provider,
    currentKeyId: ctx.session.revision.keyId,
    currentKeyIdHash: ctx.session.revision.keyIdHash,
  });
  if (!scan?.available) {
    return { done: false, learnt: { etcdUnavailable: scan?.reason ?? 'no verifier' } };
  }
  await ctx.session.save((x) => ({ ...x, verification: scan.result }));
  await emitRevisionEvent(ctx.deps, 'verification.completed', ctx.session.revision);
  return { done: false };
}

export async function complete(ctx: StepContext, step: StepOf<'complete'>): Promise<ActionResult> {
  await ctx.session.save((x) => {
    // nothing is left to retry once the revision completes
    const { lastError: _, retry: __, ...rest } = x;
    return {
      ...rest,
      phase: phaseFor(step, x.phase),
      ...(step.note ? { lastError: step.note } : {}),
    };
  });
  await emitRevisionEvent(ctx.deps, 'migration.completed', ctx.session.revision, step.note);
  await pruneRevisions(ctx.deps, ctx.config);
  return { done: true, more: false };
}

/**
 * Records the cause; announces it unless the revision was already Degraded for it. Objects behind
 * it (`retrying`) get their first retry pass scheduled (docs/architecture.md R13).
 */
export async function degrade(
  ctx: StepContext,
  step: StepOf<'degraded'>,
  convergence: RevisionConvergence,
): Promise<ActionResult> {
  const r = ctx.session.revision;
  const schedule = step.retrying && !r.retry ? firstRetry(ctx.deps.clock.now()) : undefined;
  const regressed = regression(ctx, step);
  if (r.phase !== phaseFor(step, r.phase) || r.lastError !== step.reason || schedule || regressed) {
    await ctx.session.save((x) => ({
      ...x,
      phase: phaseFor(step, x.phase),
      lastError: step.reason,
      convergence,
      ...(schedule && !x.retry ? { retry: schedule } : {}),
      ...(regressed && !x.regressedAt ? { regressedAt: regressed } : {}),
    }));
  }
  // a cause a step finds only by trying (etcd down, a list refused) passes through another phase
  // first; the phase the step began in says whether it is news
  const known = ctx.began.phase === 'Degraded' && ctx.began.lastError === step.reason;
  if (r.phase !== 'Degraded' && !known) {
    await emitRevisionEvent(ctx.deps, 'migration.degraded', ctx.session.revision, step.reason);
  }
  return { done: true, more: step.recoverable };
}

/**
 * The time to record as the regression, when the state machine says convergence was lost after the
 * migration started and the revision does not say so yet: the first time is kept, so the pass
 * that follows covers every write since.
 */
function regression(
  ctx: StepContext,
  step: StepOf<'wait-convergence'> | StepOf<'degraded'>,
): string | undefined {
  if (!step.regressed || ctx.session.revision.regressedAt !== undefined) return undefined;
  return ctx.deps.clock.now().toISOString();
}

function sameVerdict(a: Revision['convergence'], b: RevisionConvergence): boolean {
  return (
    a !== undefined &&
    a.converged === b.converged &&
    a.via === b.via &&
    a.reason === b.reason &&
    a.pending.join() === b.pending.join()
  );
}
