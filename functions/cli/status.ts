// `rekey status`: the provider's revisions (phase, progress, notes) and which key_id hash each
// live apiserver reports now, with the convergence verdict for the newest revision.
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { statusReport } from '../../shared/core/status-report.ts';
import { type Format, printJson, printTable } from './output.ts';

const short = (h: string | null) => (h ? `${h.slice(0, 19)}…` : '-');

export async function statusCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  const report = await statusReport(deps, config);
  const newest = report.revisions[0];
  const convergence = report.convergence;
  if (format === 'json') printJson(report);
  else {
    process.stdout.write(
      `provider ${report.provider} (${report.followed === 'pinned' ? 'REKEY_PROVIDER' : "the nodes' write provider"})\n\nrevisions:\n`,
    );
    printTable([
      [
        'NAME',
        'PHASE',
        'KEY-ID-HASH',
        'LISTED',
        'RE-ENCRYPTED',
        'ALREADY-CURRENT',
        'FAILED',
        'VERIFIED',
      ],
      ...report.revisions.map((r) => [
        r.name,
        r.phase,
        short(r.keyIdHash),
        String(r.counts.listed),
        String(r.counts.reencrypted),
        String(r.counts.alreadyCurrent),
        String(r.counts.failed),
        r.verified === null ? '-' : String(r.verified),
      ]),
    ]);
    process.stdout.write('\napiservers:\n');
    printTable([
      ['APISERVER-ID-HASH', 'REPORTS-KEY-ID-HASH'],
      ...report.apiservers.map((a) => [short(a.apiserverIdHash), short(a.keyIdHash)]),
    ]);
    if (report.metricsProblem) process.stdout.write(`\nmetrics: ${report.metricsProblem}\n`);
    if ('scope' in report) {
      const names = report.scope.resources.map((r) => r.resource).join(', ');
      process.stdout.write(`\nscope (${report.scope.source}): ${names}\n`);
      for (const note of report.scope.notes) process.stdout.write(`scope: ${note}\n`);
    } else process.stdout.write(`\n${report.scopeProblem}\n`);
    if (convergence) process.stdout.write(`\nconvergence: ${convergence.reason}\n`);
    if (newest?.hashOnly)
      process.stdout.write(
        `key: only its hash is known, from the apiservers' metrics${newest.kmsLabel ? ` (the KMS said current: ${newest.kmsLabel})` : ''}\n`,
      );
    if (newest?.message) process.stdout.write(`note: ${newest.message}\n`);
    if (newest?.nextRetry) {
      process.stdout.write(
        `retry: the objects behind it are re-patched next at ${newest.nextRetry.at} (${newest.nextRetry.attempt} pass(es) so far; \`rekey migrate\` re-patches them now)\n`,
      );
    }
    if (newest?.kmsRotation)
      process.stdout.write(
        `KMS rotation (${newest.kmsRotation.verdict}): ${newest.kmsRotation.explanation}\n`,
      );
    if (newest?.keyDanger)
      process.stdout.write(
        `DANGER: the KMS reports ${newest.keyDanger.what} for ${newest.keyDanger.key} at ${newest.keyDanger.at}\n`,
      );
  }
  return newest?.phase === 'Degraded' || newest?.keyDanger ? 1 : 0;
}
