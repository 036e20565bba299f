// `rekey keys`: which keys protect the data in etcd (every key_id of every provider, other schemes,
// plaintext), with object counts per storage path; `--retire <key_id>` answers "can I disable this
// key now?" with the exit codes of functions/cli/output.ts.

import {
  checkTransitVersions,
  type TransitVersionsReport,
} from '../../shared/core/check-transit-versions.ts';
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { followedProvider } from '../../shared/core/followed-provider.ts';
import { keyInventory } from '../../shared/core/key-inventory.ts';
import { checkRetire, type RetireReport } from '../../shared/core/retire-key.ts';
import { listNames } from '../../shared/domain/format.ts';
import type { TransitKeyReader } from '../../shared/ports/transit-key-reader.ts';
import { EXIT, type ExitCode, type Format, printJson, printTable, verdict } from './output.ts';

const NO_ETCD =
  'not verifiable: no etcd access is configured (--etcd-endpoints or REKEY_ETCD_ENDPOINTS)';

const BACKUPS =
  'etcd backups and snapshots taken before the newest verification still hold values under the old key: ' +
  'a deleted key makes them unrestorable; disable it rather than delete it (re-enable it to restore) ' +
  'for as long as you keep those backups';

/** With a Vault / OpenBao transit key behind `provider`: which versions in etcd it can no longer decrypt. */
export interface TransitCheck {
  provider: string;
  reader: TransitKeyReader;
}

function printTransit(t: TransitVersionsReport): void {
  if (!t.checked) {
    process.stdout.write(`\ncannot check the transit key ${t.key}: ${t.reason}\n`);
    return;
  }
  if (!t.danger) {
    process.stdout.write(
      `\ntransit key ${t.key}: latest version ${t.state.latestVersion}, min_decryption_version ${t.state.minDecryptionVersion}: every version in etcd can be decrypted\n`,
    );
    return;
  }
  process.stdout.write(
    `\nDANGER: ${t.danger}; re-enable them (lower min_decryption_version) before any apiserver restarts, then run \`rekey migrate\`\n`,
  );
}

export async function keysCommand(
  deps: ReconcileDeps,
  format: Format,
  transit?: TransitCheck,
): Promise<number> {
  if (!deps.scanner) {
    if (format === 'json')
      printJson({ available: false, reason: NO_ETCD, verdict: verdict(EXIT.unverifiable) });
    else process.stdout.write(`${NO_ETCD}\n`);
    return EXIT.unverifiable;
  }
  const inventory = await keyInventory(deps.scanner);
  const t = transit
    ? await checkTransitVersions(deps, transit.provider, inventory, transit.reader)
    : undefined;
  // a danger is not ok: those objects are lost at the next apiserver restart
  const code = t?.checked && t.danger ? EXIT.notOk : EXIT.ok;
  if (format === 'json') {
    printJson(t ? { ...inventory, transit: t } : inventory);
    return code;
  }
  process.stdout.write(`${inventory.totalScanned} value(s) under ${inventory.prefix}\n\n`);
  printTable([
    ['ENCRYPTION', 'PROVIDER', 'KEY-ID', 'OBJECTS', 'WHERE'],
    ...inventory.rows.map((r) => [
      r.kind,
      r.provider ?? '-',
      r.keyId ?? '-',
      String(r.total),
      Object.entries(r.byPath)
        .sort(([, a], [, b]) => b - a)
        .map(([path, n]) => `${path}=${n}`)
        .join(' '),
    ]),
  ]);
  if (t) printTransit(t);
  return code;
}

function retireCode(report: RetireReport): ExitCode {
  if (report.result.verdict === 'retirable') return EXIT.ok;
  return report.result.verdict === 'in-use' ? EXIT.notOk : EXIT.unverifiable;
}

export async function retireCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  keyId: string,
  format: Format,
): Promise<number> {
  // the verdict looks at every kms provider; the followed one (if any now) only names whose newest
  // revision's verification is reported, so a switch in progress does not stop the answer
  const followed = await followedProvider(deps, config);
  const report = await checkRetire(deps, {
    keyId,
    ...(followed.kind === 'follow' ? { provider: followed.provider } : {}),
  });
  const code = retireCode(report);
  if (format === 'json') {
    printJson({ ...report, backups: BACKUPS, verdict: verdict(code) });
    return code;
  }
  const r = report.result;
  const key = `key_id ${report.keyIdHash}`;
  if (r.verdict === 'retirable') {
    process.stdout.write(
      `yes: no value under the etcd prefix is wrapped by ${key} under any kms provider, and no live apiserver reports it as current for any provider\n`,
    );
  } else if (r.verdict === 'unknown') {
    process.stdout.write(`cannot tell: ${r.reason}\n`);
  } else {
    process.stdout.write(
      `no: ${key} is still needed, under provider(s) ${listNames(r.providers, { max: 50 })}\n`,
    );
    if (r.objectCount > 0) {
      process.stdout.write(`  ${r.objectCount} value(s) are wrapped by it:\n`);
      for (const o of r.objects) process.stdout.write(`    ${o}\n`);
      if (r.objectCount > r.objects.length)
        process.stdout.write(`    … and ${r.objectCount - r.objects.length} more\n`);
    }
    if (r.apiservers.length > 0) {
      process.stdout.write(
        `  apiservers reporting it as their current key: ${listNames(r.apiservers, { max: 50 })}\n`,
      );
    }
  }
  if (report.provider === undefined) {
    process.stdout.write('no provider is followed now: no revision verification to report\n');
  } else {
    process.stdout.write(
      report.lastVerifiedAt
        ? `last verified clean: ${report.lastVerifiedAt} (${report.lastVerifiedRevision})\n`
        : 'the newest revision has not been verified clean yet\n',
    );
  }
  process.stdout.write(`note: ${BACKUPS}\n`);
  return code;
}
