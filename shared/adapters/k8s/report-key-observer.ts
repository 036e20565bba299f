// The KeyObserver port on key-id reports: each fresh, healthy report is an observation from the
// plugin's own Status, with the time its reporter first saw that key_id; stale reports (the
// reporter stopped) are ignored, and say so in health.
// Fresh reports also carry their node's EncryptionConfiguration (hash and the entries naming the
// provider), which is where rekey's scope comes from.
import type { Observation } from '../../domain/observation.ts';
import type { Clock } from '../../ports/clock.ts';
import type {
  KeyObservation,
  KeyObserver,
  ReportedEncryptionConfig,
} from '../../ports/key-observer.ts';
import { type KeyIdReport, readReports } from './key-id-reports.ts';
import type { CoreApi } from './typed-api.ts';

/** When the report's key_id was first seen; never later than the report itself says it looked. */
function firstSeen(r: KeyIdReport): Pick<Observation, 'firstSeenAt'> {
  if (r.keyIdFirstSeen === undefined) return {};
  const at =
    Date.parse(r.keyIdFirstSeen) <= Date.parse(r.observedAt) ? r.keyIdFirstSeen : r.observedAt;
  return { firstSeenAt: at };
}

export function createReportKeyObserver(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  {
    namespace,
    clock,
    maxAgeMs = 5 * 60_000,
  }: { namespace: string; clock: Clock; maxAgeMs?: number },
): KeyObserver {
  return {
    async observe(provider): Promise<KeyObservation> {
      const now = clock.now().getTime();
      const reports = await readReports(api, namespace, provider);
      const fresh = reports.filter((r) => now - Date.parse(r.observedAt) <= maxAgeMs);
      const observations: Observation[] = fresh
        .filter((r) => !r.error && r.healthz === 'ok' && r.keyId)
        .map((r) => ({
          provider,
          keyId: r.keyId,
          source: 'plugin-status',
          observedAt: r.observedAt,
          ...firstSeen(r),
        }));
      // A stale report's configuration may be one the apiserver no longer runs: fresh ones only.
      const encryptionConfigs: ReportedEncryptionConfig[] = fresh.flatMap((r) =>
        r.encryptionConfig
          ? [
              {
                node: r.node,
                hash: r.encryptionConfig.hash,
                resources: r.encryptionConfig.resources.map((e) => ({
                  resources: [...e.resources],
                  write: e.write,
                })),
                ...(r.encryptionConfig.entries ? { entries: r.encryptionConfig.entries } : {}),
              },
            ]
          : [],
      );
      const unhealthy = fresh.filter((r) => r.error || r.healthz !== 'ok');
      if (fresh.length === 0) {
        return { observations, pluginHealth: { status: 'unknown' }, encryptionConfigs };
      }
      if (unhealthy.length) {
        const why = unhealthy
          .map((r) => `${r.node}: ${r.error ?? `healthz ${r.healthz}`}`)
          .join('; ');
        return {
          observations,
          pluginHealth: { status: 'unhealthy', reason: why },
          encryptionConfigs,
        };
      }
      return { observations, pluginHealth: { status: 'healthy' }, encryptionConfigs };
    },
  };
}
