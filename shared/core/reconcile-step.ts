// One bounded, level-triggered step of rekey for one KMS provider (docs/architecture.md R1-R10):
// under the provider's Lease, observe and record a revision (record-revision.ts), then let the
// state machine (shared/domain/phase.ts) pick each next action until one ends the step. Re-reads
// everything it decides on, so duplicate, late or reordered triggers are harmless. The step ends
// where it stands when its Lease is lost or its hard deadline passes (shared/core/step-stop.ts).
// The provider is the pinned one, else the one every node's reported configuration writes with,
// read afresh on each step (./followed-provider.ts): after a KMS -> KMS switch the next step follows
// the new provider, under that provider's own Lease and revisions.
import { randomUUID } from 'node:crypto';
import { assessConvergence } from '../domain/convergence.ts';
import type { MigrationCounts } from '../domain/migration-counts.ts';
import { summariseProgress } from '../domain/migration-progress.ts';
import { decideNextStep, type Step, type StepInput } from '../domain/phase.ts';
import { retryDue } from '../domain/retry-schedule.ts';
import { providerSegment, type Revision, type RevisionConvergence } from '../domain/revision.ts';
import type { ProviderConfig, ReconcileConfig, ReconcileDeps } from './deps.ts';
import { withFollowedProvider } from './followed-provider.ts';
import { LeaseSession } from './lease-session.ts';
import { migrateRevision } from './migrate-revision.ts';
import { recordRevision } from './record-revision.ts';
import type { Scope } from './resolve-scope.ts';
import { retryObjects } from './retry-objects.ts';
import { complete, degrade, verify, waitForConvergence } from './step-actions.ts';
import type { ActionResult, Learnt, StepContext } from './step-context.ts';
import { StepStop, type StopReason, stepDeadlineMs } from './step-stop.ts';

export type StepOutcome =
  /**
   * No provider to follow now (REKEY_PROVIDER unset): `wait` settles by itself (a switch rolling
   * out, no report yet), `unresolved` needs someone (several kms providers write, or none).
   */
  | { kind: 'no-provider'; wait: boolean; reason: string }
  | { kind: 'busy'; provider: string; heldBy: string }
  | { kind: 'no-key-id'; provider: string; reason: string }
  | {
      kind: 'step';
      provider: string;
      revision: string;
      keyIdHash: string;
      phase: Revision['phase'];
      step: Step;
      counts: MigrationCounts;
      /** More work remains: call again (a continuation). */
      more: boolean;
      /** What this step rewrote and proved, and where that came from. */
      scope: Scope;
      /** The revision is Completed and its last etcd scan was clean. */
      verified: boolean;
      /** Cut short: the Lease was lost, or the step's hard deadline passed. */
      stopped?: StopReason;
    };

export async function reconcileStep(
  deps: ReconcileDeps,
  settings: ReconcileConfig,
): Promise<StepOutcome> {
  const followed = await withFollowedProvider(deps, settings);
  if ('unfollowed' in followed) {
    const { kind, reason } = followed.unfollowed;
    return { kind: 'no-provider', wait: kind === 'wait', reason };
  }
  return stepFor(deps, followed.config);
}

async function stepFor(deps: ReconcileDeps, config: ProviderConfig): Promise<StepOutcome> {
  const { provider } = config;
  const budgetMs = config.budgetMs ?? 60_000;
  const started = deps.clock.now().getTime();
  const deadline = started + budgetMs;
  const abortAt = started + (config.deadlineMs ?? stepDeadlineMs(budgetMs));
  const taken = await LeaseSession.acquire(deps.lock, {
    name: `rekey-${providerSegment(provider)}`,
    // one holder per step, not per process: a function instance serves concurrent requests, and
    // two steps of one process must not both think they hold the provider's Lease
    holder: `${config.holder}/${randomUUID().slice(0, 8)}`,
    ttlMs: config.lockTtlMs ?? Math.max(30_000, 2 * budgetMs),
  });
  if (!taken.acquired) return { kind: 'busy', provider, heldBy: taken.heldBy };
  const { lease } = taken;
  const stop = new StepStop({ clock: deps.clock, abortAt, lease: lease.signal });
  try {
    const { session, scope, plugin } = await recordRevision(deps, config);
    if (!session) {
      const reason = `no key_id observed yet for provider "${provider}" and no revision recorded`;
      return { kind: 'no-key-id', provider, reason };
    }
    const { phase, lastError } = session.revision;
    const began = { phase, ...(lastError === undefined ? {} : { lastError }) };
    const ctx = { deps, config, session, lease, scope, plugin, deadline, stop, began };
    return await runActions(ctx);
  } finally {
    stop.dispose();
    await lease.release();
  }
}

/** Decide, act, and again, until an action ends the step. */
async function runActions(ctx: StepContext): Promise<StepOutcome> {
  let learnt: Learnt = {};
  for (;;) {
    const convergence = await readConvergence(ctx);
    const step = decideNextStep(stepInput(ctx, convergence, learnt));
    // stopped between actions (a long verification, say): end before the next one starts. Work is
    // left either way: a continuation finds the Lease busy if another runner took it over
    const stopped = ctx.stop.check();
    if (stopped) return outcome(ctx, step, true, stopped);
    const result = await act(ctx, step, convergence);
    if (result.done) return outcome(ctx, step, result.more, result.stopped);
    learnt = { ...learnt, ...result.learnt };
  }
}

function act(
  ctx: StepContext,
  step: Step,
  convergence: RevisionConvergence,
): Promise<ActionResult> {
  switch (step.kind) {
    case 'nothing-to-do':
      return Promise.resolve({ done: true, more: false });
    case 'wait-convergence':
      return waitForConvergence(ctx, step, convergence);
    case 'migrate':
      return migrateRevision(ctx, step);
    case 'retry':
      return retryObjects(ctx, step);
    case 'verify':
      return verify(ctx, step);
    case 'complete':
      return complete(ctx, step);
    case 'degraded':
      return degrade(ctx, step, convergence);
  }
}

/** Whether every live apiserver has adopted the revision's key_id, as of now. */
async function readConvergence({ deps, config, session }: StepContext) {
  const r = session.revision;
  const adoption = await deps.adoption.read();
  const verdict = assessConvergence({
    keyIdHash: r.keyIdHash,
    provider: config.provider,
    liveApiservers: adoption.liveApiservers,
    samples: adoption.samples,
    metricsReadable: adoption.metricsReadable,
    kmsUnhealthy: adoption.kmsUnhealthy,
    observedAt: r.observedAt,
    now: deps.clock.now(),
    ...(config.fallbackWaitMs === undefined ? {} : { fallbackWaitMs: config.fallbackWaitMs }),
  });
  return { ...verdict, checkedAt: deps.clock.now().toISOString() };
}

/** Everything the state machine documents, from the revision and what this step learnt. */
function stepInput(ctx: StepContext, convergence: RevisionConvergence, learnt: Learnt): StepInput {
  const r = ctx.session.revision;
  // one pass per step, whatever asked for it: the operator's `rekey migrate` or the backoff
  const due =
    !learnt.retried && (ctx.config.retryNow === true || retryDue(r.retry, ctx.deps.clock.now()));
  return {
    revision: r,
    convergence,
    migration: {
      ...summariseProgress(r.progress),
      started: r.progress.resources.length > 0,
      ...(learnt.listRefused ? { blocked: learnt.listRefused } : {}),
      ...(learnt.apiUnavailable ? { unavailable: learnt.apiUnavailable } : {}),
    },
    verification: {
      configured: ctx.deps.verifier !== undefined,
      ...(r.verification ? { result: r.verification } : {}),
      ...(learnt.etcdUnavailable ? { unavailable: learnt.etcdUnavailable } : {}),
    },
    plugin: ctx.plugin,
    ...(due ? { retry: { due } } : {}),
    ...(r.kmsRotation?.verdict === 'hidden' ? { hiddenRotation: true as const } : {}),
    ...(r.regressedAt === undefined ? {} : { regressedAt: r.regressedAt }),
  };
}

function outcome(
  { config, session, scope }: StepContext,
  step: Step,
  more: boolean,
  stopped?: StopReason,
): StepOutcome {
  const r = session.revision;
  return {
    kind: 'step',
    provider: config.provider,
    revision: r.name,
    keyIdHash: r.keyIdHash,
    phase: r.phase,
    step,
    counts: summariseProgress(r.progress).counts,
    more,
    scope,
    verified: r.phase === 'Completed' && r.verification?.clean === true,
    ...(stopped ? { stopped } : {}),
  };
}
