// The status of a provider as data (revisions, phases, counts, adoption, scope), for the webhook's
// `status` command and the CLI. The scope is best effort: an identity that may not read the
// key-id reports still gets the rest, and the report says why the scope is missing.

import { assessConvergence } from '../domain/convergence.ts';
import { activeDangers, dangersIn } from '../domain/key-danger.ts';
import { isHashOnly } from '../domain/key-id.ts';
import { currentKeyIdHashes } from '../domain/key-id-metrics.ts';
import { summariseProgress } from '../domain/migration-progress.ts';
import { type KeyDangerNote, newestRevision } from '../domain/revision.ts';
import type { ProviderConfig, ReconcileConfig, ReconcileDeps } from './deps.ts';
import { followedProvider, NoProviderError } from './followed-provider.ts';
import type { Scope } from './resolve-scope.ts';
import { currentScope } from './verify-now.ts';

async function scopeOrWhy(
  deps: ReconcileDeps,
  config: ProviderConfig,
): Promise<{ scope: Scope } | { scopeProblem: string }> {
  try {
    return { scope: await currentScope(deps, config) };
  } catch (err) {
    return { scopeProblem: `scope unknown: ${(err as Error).message}` };
  }
}

/**
 * The status of the provider rekey follows now (the pinned one, else the one the nodes' reported
 * configurations write with); throws NoProviderError when there is none to follow.
 */
export async function statusReport(deps: ReconcileDeps, settings: ReconcileConfig) {
  const followed = await followedProvider(deps, settings);
  if (followed.kind !== 'follow') throw new NoProviderError(followed);
  const config: ProviderConfig = { ...settings, provider: followed.provider };
  const [stored, adoption, scope] = await Promise.all([
    deps.store.list(config.provider),
    deps.adoption.read(),
    scopeOrWhy(deps, config),
  ]);
  const reporting = currentKeyIdHashes(adoption.samples).filter(
    (s) => s.providerName === config.provider,
  );
  const newest = newestRevision(stored.map((s) => s.revision));
  const convergence = newest
    ? assessConvergence({
        keyIdHash: newest.keyIdHash,
        provider: config.provider,
        liveApiservers: adoption.liveApiservers,
        samples: adoption.samples,
        metricsReadable: adoption.metricsReadable,
        kmsUnhealthy: adoption.kmsUnhealthy,
        observedAt: newest.observedAt,
        now: deps.clock.now(),
        // the wait the step applies (REKEY_FALLBACK_WAIT_SECONDS), so status tells the same story
        ...(config.fallbackWaitMs === undefined ? {} : { fallbackWaitMs: config.fallbackWaitMs }),
      })
    : undefined;
  return {
    ...(convergence ? { convergence } : {}),
    provider: config.provider,
    /** Where the provider came from: REKEY_PROVIDER, or the nodes' reported configurations. */
    followed: followed.source,
    revisions: stored
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number) // newest first, as a table shows them
      .map((r) => ({
        name: r.name,
        keyIdHash: r.keyIdHash,
        phase: r.phase,
        source: r.source,
        // recorded from the apiservers' metrics: no key_id, so no proof names it
        ...(isHashOnly(r) ? { hashOnly: true } : {}),
        ...(r.kmsLabel ? { kmsLabel: r.kmsLabel } : {}),
        observedAt: r.observedAt,
        counts: summariseProgress(r.progress).counts,
        verified: r.verification ? r.verification.clean : null,
        ...(r.verification?.resources ? { proof: r.verification.resources } : {}),
        ...(r.verification?.problems?.length ? { proofProblems: r.verification.problems } : {}),
        ...(r.lastError ? { message: r.lastError } : {}),
        // when the objects behind a Degraded revision are re-patched next (docs/architecture.md R13)
        ...(r.retry ? { nextRetry: r.retry } : {}),
        ...(r.kmsRotation ? { kmsRotation: r.kmsRotation } : {}),
        // the newest danger the KMS has not said is over raises the alarm; all stay in history
        ...dangerFields(r.keyDanger),
      })),
    apiservers: adoption.liveApiservers.map((id) => ({
      apiserverIdHash: id,
      keyIdHash: reporting.find((s) => s.apiserverIdHash === id)?.keyIdHash ?? null,
    })),
    ...scope,
    metricsReadable: adoption.metricsReadable,
    ...(adoption.endpoints ? { apiserverEndpoints: adoption.endpoints } : {}),
    ...(adoption.unreadableReason ? { metricsProblem: adoption.unreadableReason } : {}),
  };
}

/** `keyDanger`: the newest active danger (what `rekey status` raises); `keyDangers`: all of them. */
function dangerFields(note: KeyDangerNote | undefined): {
  keyDanger?: KeyDangerNote;
  keyDangers?: KeyDangerNote[];
} {
  const all = dangersIn(note);
  if (all.length === 0) return {};
  const [active] = activeDangers(note);
  return { ...(active ? { keyDanger: active } : {}), keyDangers: all };
}
