// `rekey plan`: prints the dry run shared/core/plan-migration.ts computes (which objects a migration
// to the current key_id would rewrite, per namespace), as text or JSON. Changes nothing.
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { type MigrationPlan, planMigration } from '../../shared/core/plan-migration.ts';
import { EXIT, type Format, printJson, printTable } from './output.ts';

const SOURCE: Record<MigrationPlan['source'], string> = {
  etcd: 'etcd',
  listing: 'listing (no etcd access: every object in scope is rewritten)',
};

const namespaceLabel = (ns: string) => ns || '(cluster-scoped)';

export async function planCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  format: Format,
): Promise<number> {
  const r = await planMigration(deps, config);
  if (r.kind === 'no-key-id') {
    process.stderr.write(
      `rekey: no key_id known for provider "${r.provider}" (no report, no revision)\n`,
    );
    return EXIT.notOk;
  }
  const { plan } = r;
  if (format === 'json') {
    printJson({
      provider: plan.provider,
      keyIdHash: plan.keyIdHash,
      source: SOURCE[plan.source],
      resources: plan.resources,
      scope: { source: plan.scope.source, notes: plan.scope.notes },
      scanned: plan.scanned,
      toRewrite: plan.toRewrite,
      perNamespace: Object.fromEntries(plan.perNamespace.map(([ns, c]) => [namespaceLabel(ns), c])),
    });
    return EXIT.ok;
  }
  process.stdout.write(
    `plan for provider ${plan.provider}, key ${plan.keyIdHash.slice(0, 19)}… (${SOURCE[plan.source]}):\n` +
      `${plan.toRewrite} of ${plan.scanned} object(s) of ${plan.resources.join(', ')} would be rewritten\n\n`,
  );
  if (plan.perNamespace.length > 0) {
    printTable([
      ['NAMESPACE', 'OBJECTS'],
      ...plan.perNamespace.map(([ns, c]) => [namespaceLabel(ns), String(c)]),
    ]);
  }
  return EXIT.ok;
}
