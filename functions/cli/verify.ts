// `rekey verify`: scans etcd and reports, per object in scope, whether it is under the newest
// revision's key_id (names only). Exit 1 when anything is left under another key.
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { EXIT, type Format, printJson, UsageError } from './output.ts';

export async function verifyCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  if (!deps.verifier)
    throw new UsageError('verify needs etcd access: set --etcd-endpoints or REKEY_ETCD_ENDPOINTS');
  const newest = (await deps.store.list(config.provider))
    .map((s) => s.revision)
    .sort((a, b) => b.number - a.number)[0];
  if (!newest) {
    const msg = `no revision recorded for provider "${config.provider}": run rekey reconcile first`;
    if (format === 'json') printJson({ provider: config.provider, verified: false, reason: msg });
    else process.stdout.write(`${msg}\n`);
    return EXIT.notOk;
  }
  const scan = await deps.verifier.scan({
    resources: config.resources,
    provider: config.provider,
    currentKeyId: newest.keyId,
  });
  const report = scan.available
    ? {
        provider: config.provider,
        revision: newest.name,
        keyIdHash: newest.keyIdHash,
        resources: config.resources,
        ...scan.result,
      }
    : { provider: config.provider, revision: newest.name, available: false, reason: scan.reason };
  if (format === 'json') printJson(report);
  else if (!scan.available) process.stdout.write(`not verified: ${scan.reason}\n`);
  else {
    const r = scan.result;
    process.stdout.write(
      `${r.clean ? 'clean' : 'NOT CLEAN'}: scanned ${r.scanned ?? '?'} object(s) of ${config.resources.join(', ')}; ` +
        `${r.offenderCount ?? r.offenders.length} under another key than ${newest.name}\n`,
    );
    for (const o of r.offenders) process.stdout.write(`  ${o}\n`);
  }
  return scan.available && scan.result.clean ? EXIT.ok : EXIT.notOk;
}
