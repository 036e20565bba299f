// The ReportedConfigs port on key-id reports: the EncryptionConfiguration of every fresh report,
// whichever provider it reports on (a node runs one reporter per plugin; each reads the same
// file). Freshness as for observations (report-key-observer.ts): a stale report's file may be one
// its apiserver no longer runs.
import {
  type FreshnessLimits,
  lastConfirmedMs,
  reportFreshness,
} from '../../domain/report-freshness.ts';
import type { Clock } from '../../ports/clock.ts';
import type { ReportedConfigs, ReportedEncryptionConfig } from '../../ports/key-observer.ts';
import { readAllReports } from './key-id-reports.ts';
import { confirmed } from './report-key-observer.ts';
import type { CoordinationApi, CoreApi } from './typed-api.ts';

export function createReportedConfigs(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  {
    namespace,
    clock,
    leases,
    maxAgeMs,
    skewMs,
  }: {
    namespace: string;
    clock: Clock;
    leases?: Pick<CoordinationApi, 'readNamespacedLease'>;
  } & FreshnessLimits,
): ReportedConfigs {
  const limits: FreshnessLimits = {
    ...(maxAgeMs === undefined ? {} : { maxAgeMs }),
    ...(skewMs === undefined ? {} : { skewMs }),
  };
  return {
    async read(): Promise<ReportedEncryptionConfig[]> {
      const reports = await readAllReports(api, namespace);
      const dated = await Promise.all(reports.map((r) => confirmed(leases, namespace, r)));
      const now = clock.now().getTime();
      return dated
        .filter((r) => reportFreshness(lastConfirmedMs(r.confirmedAt), now, limits) === 'fresh')
        .flatMap((r) =>
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
    },
  };
}
