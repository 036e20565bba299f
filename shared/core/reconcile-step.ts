// One bounded, level-triggered step of rekey for one KMS provider (DESIGN rules 1-6): observe the
// key_id, record a revision, gate on every apiserver's adoption, migrate a slice, verify from etcd,
// prune. Re-reads everything it decides on, so duplicate, late or reordered triggers are harmless.
import { randomUUID } from 'node:crypto';
import { assessConvergence } from '../domain/convergence.ts';
import type { MigrationCounts } from '../domain/migration-counts.ts';
import { startProgress, summariseProgress } from '../domain/migration-progress.ts';
import { decideNextStep, phaseFor, type Step } from '../domain/phase.ts';
import { revisionsToPrune } from '../domain/prune.ts';
import { newRevision, planRevision, providerSegment, type Revision } from '../domain/revision.ts';
import { chooseObservation } from './choose-observation.ts';
import type { ReconcileConfig, ReconcileDeps } from './deps.ts';
import { migrateSlice } from './migrate-slice.ts';
import { openSession, type RevisionSession } from './revision-session.ts';

export type StepOutcome =
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
    };

export async function reconcileStep(
  deps: ReconcileDeps,
  config: ReconcileConfig,
): Promise<StepOutcome> {
  const { provider } = config;
  if (config.resources.length === 0) throw new Error('reconcileStep: no resources in scope');
  const budgetMs = config.budgetMs ?? 60_000;
  const deadline = deps.clock.now().getTime() + budgetMs;
  const ttl = config.lockTtlMs ?? Math.max(30_000, 2 * budgetMs);
  // One holder per step, not per process: a function instance serves concurrent requests, and two
  // steps of one process must not both think they hold the provider's Lease.
  const holder = `${config.holder}/${randomUUID().slice(0, 8)}`;
  const lock = await deps.lock.tryAcquire(`rekey-${providerSegment(provider)}`, holder, ttl);
  if (!lock.acquired) return { kind: 'busy', provider, heldBy: lock.heldBy };
  let handle = lock.handle;
  try {
    const seen = await deps.observer.observe(provider);
    let stored = await deps.store.list(provider);
    const revisions = stored.map((s) => s.revision);
    const latest = [...revisions].sort((a, b) => b.number - a.number)[0];
    // a forced rewrite re-records the key_id the plugin reports now, as a new, forced revision
    const forcedObservation =
      config.force && latest ? seen.observations.find((o) => o.keyId === latest.keyId) : undefined;
    const chosen = forcedObservation ?? chooseObservation(seen.observations, revisions);
    if (chosen) {
      const plan = planRevision(revisions, chosen, { force: forcedObservation !== undefined });
      if (plan.action === 'create') {
        const rev = newRevision({
          observation: chosen,
          number: plan.number,
          now: deps.clock.now().toISOString(),
          forced: plan.forced === true,
        });
        const created = await deps.store.createIfAbsent(rev);
        if (created.result === 'created') {
          deps.log?.('revision created', {
            revision: rev.name,
            keyIdHash: rev.keyIdHash,
            warning: plan.warning,
          });
          await emit(deps, 'revision.created', created.stored.revision);
        }
        stored = await deps.store.list(provider);
      }
    }
    const newest = [...stored].sort((a, b) => b.revision.number - a.revision.number)[0];
    if (!newest) {
      return {
        kind: 'no-key-id',
        provider,
        reason: `no key_id observed yet for provider "${provider}" and no revision recorded`,
      };
    }
    const session = openSession(deps.store, newest, deps.clock);

    for (;;) {
      const r = session.revision;
      const adoption = await deps.adoption.read();
      const verdict = assessConvergence({
        keyIdHash: r.keyIdHash,
        provider,
        liveApiservers: adoption.liveApiservers,
        samples: adoption.samples,
        metricsReadable: adoption.metricsReadable,
        observedAt: r.observedAt,
        now: deps.clock.now(),
        ...(config.fallbackWaitMs === undefined ? {} : { fallbackWaitMs: config.fallbackWaitMs }),
      });
      const step = decideNextStep({
        revision: r,
        convergence: verdict,
        migration: summariseProgress(r.progress),
        verification: {
          configured: deps.verifier !== undefined,
          ...(r.verification ? { result: r.verification } : {}),
        },
        plugin: seen.pluginHealth,
      });
      const out = (more: boolean): StepOutcome => ({
        kind: 'step',
        provider,
        revision: session.revision.name,
        keyIdHash: session.revision.keyIdHash,
        phase: session.revision.phase,
        step,
        counts: summariseProgress(session.revision.progress).counts,
        more,
      });
      const converged = { ...verdict, checkedAt: deps.clock.now().toISOString() };

      switch (step.kind) {
        case 'nothing-to-do':
          return out(false);
        case 'wait-convergence':
          await deps.adoption.hurry();
          // write only when something a reader cares about changed: an unchanged wait rewritten
          // on every trigger would itself trigger watchers of the revision, in a loop
          if (r.phase !== 'Converging' || !sameVerdict(r.convergence, converged)) {
            await session.save((x) => ({
              ...x,
              phase: phaseFor(step, x.phase),
              convergence: converged,
            }));
          }
          return out(true);
        case 'degraded': {
          const was = r.phase;
          if (was !== 'Degraded' || r.lastError !== step.reason) {
            await session.save((x) => ({
              ...x,
              phase: 'Degraded',
              lastError: step.reason,
              convergence: converged,
            }));
          }
          if (was !== 'Degraded')
            await emit(deps, 'migration.degraded', session.revision, step.reason);
          return out(step.recoverable);
        }
        case 'complete': {
          await session.save((x) => {
            const { lastError: _, ...rest } = x;
            return { ...rest, phase: 'Completed', ...(step.note ? { lastError: step.note } : {}) };
          });
          await emit(deps, 'migration.completed', session.revision, step.note);
          await prune(deps, config);
          return out(false);
        }
        case 'verify': {
          await session.save((x) => ({ ...x, phase: 'Verifying' }));
          const scan = await deps.verifier?.scan({
            resources: config.resources,
            provider,
            currentKeyId: r.keyId,
          });
          if (!scan?.available) {
            const reason = `etcd verification unavailable: ${scan?.reason ?? 'no verifier'}`;
            await session.save((x) => ({ ...x, phase: 'Degraded', lastError: reason }));
            return out(true);
          }
          await session.save((x) => ({ ...x, verification: scan.result }));
          await emit(deps, 'verification.completed', session.revision);
          continue;
        }
        case 'migrate': {
          // no deadline check here: a step that got this far rewrites at least one page
          const stopped = await migrate(deps, config, session, deadline);
          if (stopped !== 'done') return out(true);
          continue;
        }
      }
    }
  } finally {
    await deps.lock.release(handle).catch(() => {});
  }

  async function migrate(
    d: ReconcileDeps,
    c: ReconcileConfig,
    session: RevisionSession,
    until: number,
  ): Promise<'done' | 'budget' | 'aborted'> {
    if (session.revision.progress.resources.length === 0) {
      await session.save((x) => ({
        ...x,
        phase: 'Migrating',
        progress: startProgress(c.resources),
      }));
    } else if (session.revision.phase !== 'Migrating') {
      await session.save((x) => ({ ...x, phase: 'Migrating' }));
    }
    let first = true;
    for (const cp of session.revision.progress.resources) {
      if (cp.done) continue;
      const minPages = first ? 1 : 0;
      first = false;
      const result = await migrateSlice({
        minPages,
        rewriter: d.rewriter,
        checkpoint: cp,
        failures: session.revision.progress.failed,
        clock: d.clock,
        deadline: until,
        ...(c.pageSize ? { pageSize: c.pageSize } : {}),
        ...(c.concurrency ? { concurrency: c.concurrency } : {}),
        ...(session.revision.forced ? { forcedMarker: session.revision.name } : {}),
        ownWrite: (ref) =>
          c.namespace !== undefined &&
          ref.namespace === c.namespace &&
          ref.name === session.revision.name,
        onPage: async (checkpoint, failed) => {
          await session.save((x) => ({
            ...x,
            progress: {
              resources: x.progress.resources.map((p) =>
                p.resource === checkpoint.resource ? checkpoint : p,
              ),
              failed,
            },
          }));
          d.onProgress?.(session.revision);
          const renewed = await d.lock.renew(handle, ttl);
          if (!renewed) return false;
          handle = renewed;
          return true;
        },
      });
      if (result.stoppedBy !== 'done') return result.stoppedBy;
    }
    return 'done';
  }
}

function sameVerdict(a: Revision['convergence'], b: NonNullable<Revision['convergence']>): boolean {
  return (
    a !== undefined &&
    a.converged === b.converged &&
    a.via === b.via &&
    a.reason === b.reason &&
    a.pending.join() === b.pending.join()
  );
}

async function emit(
  deps: ReconcileDeps,
  type: Parameters<NonNullable<ReconcileDeps['events']>['emit']>[0],
  r: Revision,
  reason?: string,
) {
  if (!deps.events) return;
  try {
    await deps.events.emit(type, {
      provider: r.provider,
      revision: r.name,
      keyIdHash: r.keyIdHash,
      counts: summariseProgress(r.progress).counts,
      ...(reason ? { reason } : {}),
    });
  } catch (err) {
    deps.log?.('event not delivered', { type, error: (err as Error).message });
  }
}

async function prune(deps: ReconcileDeps, config: ReconcileConfig): Promise<void> {
  const all = await deps.store.list(config.provider);
  const names = revisionsToPrune(
    all.map((s) => s.revision),
    { keep: config.keepRevisions ?? 10 },
  );
  for (const name of names) {
    const s = all.find((x) => x.revision.name === name);
    await deps.store.delete(name, s?.version);
  }
}
