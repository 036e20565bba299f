// `rekey status`: the provider's revisions (phase, progress) and which key_id hash each live
// apiserver reports now.

import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { assessConvergence } from '../../shared/domain/convergence.ts';
import { currentKeyIdHashes } from '../../shared/domain/key-id-metrics.ts';
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import { type Format, printJson, printTable } from './output.ts';

export async function statusCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  const [stored, adoption] = await Promise.all([
    deps.store.list(config.provider),
    deps.adoption.read(),
  ]);
  const revisions = stored
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
    }));
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
  const apiservers = adoption.liveApiservers.map((id) => ({
    apiserverIdHash: id,
    keyIdHash: reporting.find((s) => s.apiserverIdHash === id)?.keyIdHash ?? null,
  }));
  const report = {
    provider: config.provider,
    revisions,
    apiservers,
    metricsReadable: adoption.metricsReadable,
    ...(adoption.unreadableReason ? { metricsProblem: adoption.unreadableReason } : {}),
    ...(convergence ? { convergence } : {}),
  };
  if (format === 'json') printJson(report);
  else {
    process.stdout.write(`provider ${config.provider}\n\nrevisions:\n`);
    printTable([
      ['NAME', 'PHASE', 'KEY-ID-HASH', 'LISTED', 'RE-ENCRYPTED', 'FAILED', 'VERIFIED'],
      ...revisions.map((r) => [
        r.name,
        r.phase,
        `${r.keyIdHash.slice(0, 19)}…`,
        String(r.counts.listed),
        String(r.counts.reencrypted),
        String(r.counts.failed),
        r.verified === null ? '-' : String(r.verified),
      ]),
    ]);
    process.stdout.write('\napiservers:\n');
    printTable([
      ['APISERVER-ID-HASH', 'REPORTS-KEY-ID-HASH'],
      ...apiservers.map((a) => [
        `${a.apiserverIdHash.slice(0, 19)}…`,
        a.keyIdHash ? `${a.keyIdHash.slice(0, 19)}…` : '-',
      ]),
    ]);
    if (convergence) process.stdout.write(`\nconvergence: ${convergence.reason}\n`);
    if (revisions[0]?.message) process.stdout.write(`note: ${revisions[0].message}\n`);
  }
  return revisions[0]?.phase === 'Degraded' ? 1 : 0;
}
