// `rekey plan`: a dry run. Which objects a migration to the current key_id would rewrite, counted
// per namespace: from etcd when configured (only objects under another key), otherwise from a
// metadata-only listing (every object in scope: without etcd rekey rewrites them all, and those
// already under the key cost a read and no write). Changes nothing.
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { currentScope } from '../../shared/core/verify-now.ts';
import { parseGroupResource } from '../../shared/domain/group-resource.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { newestRevision } from '../../shared/domain/revision.ts';
import { storagePrefix } from '../../shared/domain/storage-paths.ts';
import { EXIT, type Format, printJson, printTable } from './output.ts';

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
  return newestRevision(stored.map((s) => s.revision))?.keyId;
}

export async function planCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  const scope = await currentScope(deps, config);
  const resources = scope.resources.map((r) => r.resource);
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
  const scanner = deps.scanner;
  if (scanner) {
    const prefixes = resources.map((r) => storagePrefix(parseGroupResource(r), scanner.prefix));
    for await (const v of scanner.values()) {
      const at = prefixes.find((p) => v.key.startsWith(p));
      if (at === undefined) continue;
      scanned++;
      const current =
        v.kind === 'kms-v2' && v.provider === config.provider && v.keyID === keyId && !v.error;
      const parts = v.key.slice(at.length).split('/');
      if (!current) add(parts.length > 1 ? (parts[0] ?? '') : '');
    }
  } else {
    for (const resource of resources) {
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
    source: scanner ? 'etcd' : 'listing (no etcd access: every object in scope is rewritten)',
    resources,
    scope: { source: scope.source, notes: scope.notes },
    scanned,
    toRewrite: total,
    perNamespace: Object.fromEntries(rows.map(([ns, c]) => [ns || '(cluster-scoped)', c])),
  };
  if (format === 'json') printJson(report);
  else {
    process.stdout.write(
      `plan for provider ${config.provider}, key ${report.keyIdHash.slice(0, 19)}… (${report.source}):\n` +
        `${total} of ${scanned} object(s) of ${resources.join(', ')} would be rewritten\n\n`,
    );
    if (rows.length)
      printTable([
        ['NAMESPACE', 'OBJECTS'],
        ...rows.map(([ns, c]) => [ns || '(cluster-scoped)', String(c)]),
      ]);
  }
  return EXIT.ok;
}
