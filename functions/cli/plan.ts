// `rekey plan`: a dry run. Which objects a migration to the current key_id would rewrite, counted
// per namespace: from etcd when configured (only objects under another key), otherwise from a
// metadata-only listing (every object in scope: without etcd rekey rewrites them all, and those
// already under the key cost a read and no write). Changes nothing.
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import type { ObjectReport } from '../../shared/domain/encrypted-value.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { EXIT, type Format, printJson, printTable } from './output.ts';

export interface PlanSources {
  /** etcd reports of every object in scope, when etcd access is configured. */
  etcdReports?: () => AsyncIterable<ObjectReport>;
}

async function targetKeyId(
  deps: ReconcileDeps,
  config: ReconcileConfig,
): Promise<string | undefined> {
  const seen = await deps.observer.observe(config.provider);
  const newestSeen = [...seen.observations].sort(
    (a, b) => Date.parse(b.observedAt) - Date.parse(a.observedAt),
  )[0];
  if (newestSeen) return newestSeen.keyId;
  const stored = await deps.store.list(config.provider);
  return stored.map((s) => s.revision).sort((a, b) => b.number - a.number)[0]?.keyId;
}

export async function planCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  sources: PlanSources,
  format: Format,
): Promise<number> {
  const keyId = await targetKeyId(deps, config);
  if (!keyId) {
    process.stderr.write(
      `rekey: no key_id known for provider "${config.provider}" (no report, no revision)\n`,
    );
    return EXIT.notOk;
  }
  const perNamespace = new Map<string, number>();
  let scanned = 0;
  const add = (ns: string) => perNamespace.set(ns, (perNamespace.get(ns) ?? 0) + 1);
  if (sources.etcdReports) {
    for await (const r of sources.etcdReports()) {
      scanned++;
      const current =
        r.kind === 'kms-v2' && r.provider === config.provider && r.keyID === keyId && !r.error;
      if (!current) add(r.namespace ?? '');
    }
  } else {
    for (const resource of config.resources) {
      let continueToken: string | undefined;
      do {
        const page = await deps.rewriter.listPage({
          resource,
          limit: config.pageSize ?? 500,
          ...(continueToken ? { continueToken } : {}),
        });
        if (page.expired) {
          continueToken = undefined;
          perNamespace.clear();
          scanned = 0;
          continue;
        }
        for (const item of page.items) {
          scanned++;
          add(item.namespace);
        }
        continueToken = page.continue;
      } while (continueToken);
    }
  }
  const rows = [...perNamespace.entries()].sort(([a], [b]) => a.localeCompare(b));
  const total = rows.reduce((n, [, c]) => n + c, 0);
  const report = {
    provider: config.provider,
    keyIdHash: keyIdHash(keyId),
    source: sources.etcdReports
      ? 'etcd'
      : 'listing (no etcd access: every object in scope is rewritten)',
    resources: config.resources,
    scanned,
    toRewrite: total,
    perNamespace: Object.fromEntries(rows.map(([ns, c]) => [ns || '(cluster-scoped)', c])),
  };
  if (format === 'json') printJson(report);
  else {
    process.stdout.write(
      `plan for provider ${config.provider}, key ${report.keyIdHash.slice(0, 19)}… (${report.source}):\n` +
        `${total} of ${scanned} object(s) of ${config.resources.join(', ')} would be rewritten\n\n`,
    );
    if (rows.length)
      printTable([
        ['NAMESPACE', 'OBJECTS'],
        ...rows.map(([ns, c]) => [ns || '(cluster-scoped)', String(c)]),
      ]);
  }
  return EXIT.ok;
}
