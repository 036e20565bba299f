// The KeyObserver port on key-id reports: each fresh, healthy report is an observation from the
// plugin's own Status, with the time its reporter first saw that key_id; stale reports (the
// reporter stopped) and reports dated in the future are ignored, and say so in health
// (shared/domain/report-freshness.ts). A report that names a liveness Lease was last confirmed
// when that Lease was last renewed, if later than the report itself (report-liveness.ts).
// Fresh reports also carry their node's EncryptionConfiguration (hash and the entries naming the
// provider), which is where rekey's scope comes from.
import type { Observation } from '../../domain/observation.ts';
import {
  type FreshnessLimits,
  lastConfirmedMs,
  reportFreshness,
} from '../../domain/report-freshness.ts';
import type { Clock } from '../../ports/clock.ts';
import type {
  KeyObservation,
  KeyObserver,
  ReportedEncryptionConfig,
} from '../../ports/key-observer.ts';
import { type KeyIdReport, readReports, reportName } from './key-id-reports.ts';
import { readLiveness } from './report-liveness.ts';
import type { CoordinationApi, CoreApi } from './typed-api.ts';

/** A report with the time its reporter last confirmed it. */
export type Confirmed = KeyIdReport & { confirmedAt: string | undefined };

/** The report's last confirmation: the later of its own time and its liveness Lease's renewal. */
export async function confirmed(
  leases: Pick<CoordinationApi, 'readNamespacedLease'> | undefined,
  namespace: string,
  r: KeyIdReport,
): Promise<Confirmed> {
  // only the Lease named like the report is its liveness: a report cannot borrow another's
  const own = reportName(r.node, r.provider);
  const renewed =
    leases && r.livenessLease === own ? await readLiveness(leases, namespace, own) : undefined;
  const ms = lastConfirmedMs(r.observedAt, renewed);
  return { ...r, confirmedAt: ms === undefined ? undefined : new Date(ms).toISOString() };
}

/** Where and how reports are judged fresh: shared by the observer and ReportedConfigs. */
export interface FreshReportsOptions extends FreshnessLimits {
  namespace: string;
  clock: Clock;
  /** Where the reporters' liveness Leases are read (`get`); without it, reports alone count. */
  leases?: Pick<CoordinationApi, 'readNamespacedLease'>;
}

/** The reports still confirmed within the freshness limits, each with its last confirmation. */
export async function freshReports(
  reports: readonly KeyIdReport[],
  { namespace, clock, leases, maxAgeMs, skewMs }: FreshReportsOptions,
): Promise<Confirmed[]> {
  const limits: FreshnessLimits = {
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    ...(skewMs === undefined ? {} : { skewMs }),
  };
  const dated = await Promise.all(reports.map((r) => confirmed(leases, namespace, r)));
  const now = clock.now().getTime();
  return dated.filter(
    (r) => reportFreshness(lastConfirmedMs(r.confirmedAt), now, limits) === 'fresh',
  );
}

/** A report's EncryptionConfiguration as the port gives it; none when the report has none. */
export function reportedConfigOf(r: KeyIdReport): ReportedEncryptionConfig[] {
  return r.encryptionConfig
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
    : [];
}

/** When the report's key_id was first seen; never later than the report itself says it looked. */
function firstSeen(r: KeyIdReport): Pick<Observation, 'firstSeenAt'> {
  if (r.keyIdFirstSeen === undefined) return {};
  const at =
    Date.parse(r.keyIdFirstSeen) <= Date.parse(r.observedAt) ? r.keyIdFirstSeen : r.observedAt;
  return { firstSeenAt: at };
}

export function createReportKeyObserver(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  options: FreshReportsOptions,
): KeyObserver {
  return {
    async observe(provider): Promise<KeyObservation> {
      const reports = await readReports(api, options.namespace, provider);
      const fresh = await freshReports(reports, options);
      const observations: Observation[] = fresh
        .filter((r) => !r.error && r.healthz === 'ok' && r.keyId)
        .map((r) => ({
          provider,
          keyId: r.keyId,
          source: 'plugin-status',
          // the latest look at the key_id: rekey orders reports by it (R2)
          observedAt: r.confirmedAt ?? r.observedAt,
          ...firstSeen(r),
        }));
      // A stale report's configuration may be one the apiserver no longer runs: fresh ones only.
      const encryptionConfigs: ReportedEncryptionConfig[] = fresh.flatMap(reportedConfigOf);
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
