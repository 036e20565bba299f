// One bounded, level-triggered step of rekey for one KMS provider (docs/architecture.md R1-R10):
// observe the key_id and the scope, record a revision, gate on every apiserver's adoption, migrate
// a slice, verify from etcd, prune. Re-reads everything it decides on, so duplicate, late or
// reordered triggers are harmless.
import { randomUUID } from 'node:crypto';
import { assessConvergence } from '../domain/convergence.ts';
import type { MigrationCounts } from '../domain/migration-counts.ts';
import { summariseProgress, widenProgress } from '../domain/migration-progress.ts';
import { decideNextStep, phaseFor, type Step } from '../domain/phase.ts';
import { revisionsToPrune } from '../domain/prune.ts';
import {
  newestOf,
  newestRevision,
  newRevision,
  planRevision,
  providerSegment,
  type Revision,
} from '../domain/revision.ts';
import { chooseObservation } from './choose-observation.ts';
import type { ReconcileConfig, ReconcileDeps } from './deps.ts';
import { migrateRevision } from './migrate-revision.ts';
import { resolveScope, type Scope } from './resolve-scope.ts';
import { openSession } from './revision-session.ts';

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
      /** What this step rewrote and proved, and where that came from. */
      scope: Scope;
      /** The revision is Completed and its last etcd scan was clean. */
      verified: boolean;
    };

export async function reconcileStep(
  deps: ReconcileDeps,
  config: ReconcileConfig,
): Promise<StepOutcome> {
  const { provider } = config;
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
    const scope = await resolveScope(deps.served ? { served: deps.served } : {}, {
      provider: config.provider,
      ...(config.resources ? { override: config.resources } : {}),
      ...(seen.encryptionConfigs ? { encryptionConfigs: seen.encryptionConfigs } : {}),
    });
    const scopeNames = scope.resources.map((r) => r.resource);
    let stored = await deps.store.list(provider);
    const revisions = stored.map((s) => s.revision);
    const latest = newestRevision(revisions);
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
    const newest = newestOf(stored, (s) => s.revision.number);
    if (!newest) {
      return {
        kind: 'no-key-id',
        provider,
        reason: `no key_id observed yet for provider "${provider}" and no revision recorded`,
      };
    }
    const session = openSession(deps.store, newest, deps.clock);
    // a resource that joined the scope (or lost its checkpoint) re-opens a started migration
    const started = session.revision.progress.resources.length > 0;
    if (
      started &&
      widenProgress(session.revision.progress, scopeNames) !== session.revision.progress
    ) {
      await session.save((x) => ({
        ...x,
        phase: x.phase === 'Completed' ? 'Migrating' : x.phase,
        progress: widenProgress(x.progress, scopeNames),
      }));
    }

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
        scope,
        verified:
          session.revision.phase === 'Completed' && session.revision.verification?.clean === true,
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
            scope: scope.resources,
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
          const stopped = await migrateRevision({
            deps,
            config,
            session,
            scope: scopeNames,
            deadline,
            renewLease: async () => {
              const renewed = await deps.lock.renew(handle, ttl);
              if (!renewed) return false;
              handle = renewed;
              return true;
            },
          });
          if (typeof stopped === 'object') {
            await session.save((x) => ({ ...x, phase: 'Degraded', lastError: stopped.listFailed }));
            await emit(deps, 'migration.degraded', session.revision, stopped.listFailed);
            // not a continuation: only a change of RBAC or configuration helps; a later trigger retries
            return out(false);
          }
          if (stopped !== 'done') return out(true);
          continue;
        }
      }
    }
  } finally {
    await deps.lock.release(handle).catch(() => {});
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
