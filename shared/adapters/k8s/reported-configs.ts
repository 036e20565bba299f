// The ReportedConfigs port on key-id reports: the EncryptionConfiguration of every fresh report,
// whichever provider it reports on (a node runs one reporter per plugin; each reads the same
// file). Freshness as for observations (report-key-observer.ts): a stale report's file may be one
// its apiserver no longer runs.
import type { ReportedConfigs, ReportedEncryptionConfig } from '../../ports/key-observer.ts';
import { readAllReports } from './key-id-reports.ts';
import { type FreshReportsOptions, freshReports, reportedConfigOf } from './report-key-observer.ts';
import type { CoreApi } from './typed-api.ts';

export function createReportedConfigs(
  api: Pick<CoreApi, 'listNamespacedConfigMap'>,
  options: FreshReportsOptions,
): ReportedConfigs {
  return {
    async read(): Promise<ReportedEncryptionConfig[]> {
      const reports = await readAllReports(api, options.namespace);
      return (await freshReports(reports, options)).flatMap(reportedConfigOf);
    },
  };
}
