// The status of a provider as data (revisions, phases, counts, adoption), for the webhook's
// `status` command and the CLI's JSON output.

import type { ReconcileConfig, ReconcileDeps } from '../shared/core/deps.ts';
import { assessConvergence } from '../shared/domain/convergence.ts';
import { currentKeyIdHashes } from '../shared/domain/key-id-metrics.ts';
import { summariseProgress } from '../shared/domain/migration-progress.ts';

export async function statusReport(deps: ReconcileDeps, config: ReconcileConfig) {
  const [stored, adoption] = await Promise.all([
    deps.store.list(config.provider),
    deps.adoption.read(),
  ]);
  const reporting = currentKeyIdHashes(adoption.samples).filter(
    (s) => s.providerName === config.provider,
  );
  const newest = stored.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  const convergence = newest
    ? assessConvergence({
        keyIdHash: newest.keyIdHash,
        provider: config.provider,
        liveApiservers: adoption.liveApiservers,
        samples: adoption.samples,
        metricsReadable: adoption.metricsReadable,
        observedAt: newest.observedAt,
        now: deps.clock.now(),
      })
    : undefined;
  return {
    ...(convergence ? { convergence } : {}),
    provider: config.provider,
    revisions: stored
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)
      .map((r) => ({
        name: r.name,
        keyIdHash: r.keyIdHash,
        phase: r.phase,
        source: r.source,
        observedAt: r.observedAt,
        counts: summariseProgress(r.progress).counts,
        verified: r.verification ? r.verification.clean : null,
        ...(r.lastError ? { message: r.lastError } : {}),
        ...(r.kmsRotation ? { kmsRotation: r.kmsRotation } : {}),
        ...(r.keyDanger ? { keyDanger: r.keyDanger } : {}),
      })),
    apiservers: adoption.liveApiservers.map((id) => ({
      apiserverIdHash: id,
      keyIdHash: reporting.find((s) => s.apiserverIdHash === id)?.keyIdHash ?? null,
    })),
    metricsReadable: adoption.metricsReadable,
    ...(adoption.unreadableReason ? { metricsProblem: adoption.unreadableReason } : {}),
  };
}
