// `rekey verify`: scans etcd and reports, per resource in scope, how its values are stored
// (names only). Exit 0 only when clean; 1 when anything is left under another key or the scan
// proves nothing; 4 without etcd access (functions/cli/output.ts).
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { verifyNow } from '../../shared/core/verify-now.ts';
import { listNames } from '../../shared/domain/format.ts';
import type { VerificationResult } from '../../shared/domain/verification.ts';
import { EXIT, type ExitCode, type Format, printJson, printTable, verdict } from './output.ts';

/** The per-resource table every command that shows a verification prints. */
export function printProof(r: VerificationResult): void {
  printTable([
    [
      'RESOURCE',
      'LISTED',
      'SCANNED',
      'CURRENT-KEY',
      'OLDER-KEY-IDS',
      'OTHER-PROVIDERS',
      'PLAINTEXT',
    ],
    ...(r.resources ?? []).map((x) => [
      x.write ? x.resource : `${x.resource} (read-only)`,
      x.listed === undefined ? '?' : String(x.listed),
      String(x.scanned),
      String(x.current),
      String(x.olderKeyIds),
      String(x.otherProviders),
      String(x.plaintext),
    ]),
  ]);
  if (r.strays) process.stdout.write(`outside the scope, under an older key_id: ${r.strays}\n`);
  for (const p of r.problems ?? []) process.stdout.write(`not a proof: ${p}\n`);
  const count = r.offenderCount ?? r.offenders.length;
  if (count > 0) {
    process.stdout.write(`${count} offender(s): ${listNames(r.offenders, { max: 50 })}\n`);
  }
}

export async function verifyCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  const v = await verifyNow(deps, config);
  const base = {
    provider: v.provider,
    scope: { source: v.scope.source, resources: v.scope.resources, notes: v.scope.notes },
  };
  let code: ExitCode;
  let text: string;
  let json: Record<string, unknown>;
  if (v.kind === 'no-verifier') {
    code = EXIT.unverifiable;
    text =
      'not verifiable: no etcd access is configured (--etcd-endpoints or REKEY_ETCD_ENDPOINTS)';
    json = { ...base, verified: false, reason: text };
  } else if (v.kind === 'no-revision') {
    code = EXIT.notOk;
    text = `no revision recorded for provider "${v.provider}": run rekey reconcile first`;
    json = { ...base, verified: false, reason: text };
  } else if (!v.scan.available) {
    code = EXIT.unverifiable;
    text = `not verified: ${v.scan.reason}`;
    json = { ...base, revision: v.revision.name, verified: false, reason: v.scan.reason };
  } else {
    const r = v.scan.result;
    code = r.clean ? EXIT.ok : EXIT.notOk;
    text = `${r.clean ? 'clean' : 'NOT CLEAN'}: ${r.scanned ?? '?'} value(s) read under the etcd prefix; scope (${v.scope.source}): ${v.scope.resources.map((x) => x.resource).join(', ')}; key of ${v.revision.name}`;
    json = {
      ...base,
      revision: v.revision.name,
      keyIdHash: v.revision.keyIdHash,
      verified: r.clean,
      ...r,
    };
  }
  if (format === 'json') printJson({ ...json, verdict: verdict(code) });
  else {
    process.stdout.write(`${text}\n`);
    for (const note of v.scope.notes) process.stdout.write(`scope: ${note}\n`);
    if (v.kind === 'scanned' && v.scan.available) printProof(v.scan.result);
  }
  return code;
}
