// Which resources a step rewrites and proves (docs/architecture.md, "Scope"). The truth is what the
// apiservers' EncryptionConfiguration says, as the key-id reporters next to them report it: every
// resource where the provider appears, wildcards resolved through discovery. An explicit
// REKEY_RESOURCES overrides it, and the difference is said. Re-derived on every step, so a resource
// added to the configuration later joins the migration.
import { scopeFor } from '../domain/encryption-config.ts';
import { listNames } from '../domain/format.ts';
import { formatGroupResource, parseGroupResource } from '../domain/group-resource.ts';
import type { ReportedEncryptionConfig } from '../ports/key-observer.ts';
import type { ServedResource, ServedResources } from '../ports/served-resources.ts';
import type { ScopedResource } from '../ports/verifier.ts';

/** The resources in scope, where they came from, and what a reader should know about them. */
export interface Scope {
  resources: ScopedResource[];
  source: 'encryption-config' | 'override' | 'default';
  /** Skipped resources, disagreeing reports, an override that differs from the configuration. */
  notes: string[];
  /** Set when an override and the reported configuration disagree. */
  differs?: { onlyInOverride: string[]; onlyInConfiguration: string[] };
}

/** Used when no report carries the EncryptionConfiguration and nothing overrides the scope. */
export const DEFAULT_SCOPE = ['secrets'] as const;

function matches(pattern: string, r: ServedResource): boolean {
  if (pattern === '*.*') return true;
  const p = parseGroupResource(pattern);
  if (p.resource === '*') return p.group === r.group;
  return p.group === r.group && p.resource === r.resource;
}

/** rekey can only rewrite what it can list and patch; create-only APIs (reviews) are not stored. */
function rewritable(r: ServedResource): boolean {
  return r.verbs.includes('list') && (r.verbs.includes('patch') || r.verbs.includes('update'));
}

/**
 * Pure: the scope one set of reports gives, against what the cluster serves. A report with every
 * entry of its file is resolved with the apiserver's own precedence; an older report (only the
 * entries naming the provider) by its patterns.
 */
export function scopeFromReports(
  configs: readonly ReportedEncryptionConfig[],
  served: readonly ServedResource[],
  provider: string,
): { resources: ScopedResource[]; notes: string[] } {
  const notes: string[] = [];
  const hashes = new Set(configs.map((c) => c.hash));
  if (hashes.size > 1) {
    notes.push(
      `the apiservers report ${hashes.size} different EncryptionConfigurations (a rollout?): the scope is their union`,
    );
  }
  const usable = served.filter((r) => !r.aggregated && rewritable(r));
  const write = new Map<string, boolean>();
  const add = (name: string, w: boolean) => write.set(name, (write.get(name) ?? false) || w);
  const skipped = new Set<string>();
  const unserved = new Set<string>();
  for (const config of configs) {
    for (const entry of config.resources) {
      for (const pattern of entry.resources) {
        const hits = served.filter((r) => matches(pattern, r));
        if (hits.length === 0 && !pattern.startsWith('*.')) unserved.add(pattern);
        for (const r of hits.filter((h) => h.aggregated)) {
          skipped.add(`${formatGroupResource(r)} (aggregated API, stored by its own server)`);
        }
        if (config.entries) continue;
        for (const r of hits) if (usable.includes(r)) add(formatGroupResource(r), entry.write);
      }
    }
    if (config.entries) {
      const summary = { hash: config.hash, entries: config.entries };
      for (const s of scopeFor(summary, provider, usable))
        add(formatGroupResource(s.resource), s.write);
    }
  }
  if (skipped.size > 0) notes.push(`skipped: ${listNames([...skipped].sort(), { max: 10 })}`);
  if (unserved.size > 0) {
    notes.push(
      `not served by the cluster, so nothing to rewrite: ${listNames([...unserved].sort(), { max: 10 })}`,
    );
  }
  const resources = [...write.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([resource, w]) => ({ resource, write: w }));
  return { resources, notes };
}

/**
 * The scope of one step: the override when set (with the difference from the reports said), else
 * the reports' EncryptionConfiguration, else {@link DEFAULT_SCOPE} with a note saying why.
 */
export async function resolveScope(
  { served }: { served?: ServedResources },
  {
    provider,
    override,
    encryptionConfigs = [],
  }: {
    provider: string;
    override?: readonly string[];
    encryptionConfigs?: readonly ReportedEncryptionConfig[];
  },
): Promise<Scope> {
  const fromReports =
    encryptionConfigs.length > 0 && served
      ? scopeFromReports(encryptionConfigs, await served.list(), provider)
      : undefined;
  if (override && override.length > 0) {
    const resources = override.map((resource) => ({ resource, write: true }));
    if (!fromReports) return { resources, source: 'override', notes: [] };
    const reported = new Set(fromReports.resources.map((r) => r.resource));
    const wanted = new Set(override);
    const onlyInOverride = [...wanted].filter((r) => !reported.has(r)).sort();
    const onlyInConfiguration = [...reported].filter((r) => !wanted.has(r)).sort();
    if (onlyInOverride.length === 0 && onlyInConfiguration.length === 0) {
      return { resources, source: 'override', notes: fromReports.notes };
    }
    const notes = [
      ...fromReports.notes,
      `REKEY_RESOURCES differs from the reported EncryptionConfiguration: only in REKEY_RESOURCES: ${listNames(onlyInOverride)}; only in the configuration: ${listNames(onlyInConfiguration)}`,
    ];
    return {
      resources,
      source: 'override',
      notes,
      differs: { onlyInOverride, onlyInConfiguration },
    };
  }
  if (fromReports) return { ...fromReports, source: 'encryption-config' };
  return {
    resources: DEFAULT_SCOPE.map((resource) => ({ resource, write: true })),
    source: 'default',
    notes: [
      `no key-id report carries the EncryptionConfiguration (give the reporter ENCRYPTION_CONFIG_FILE) and REKEY_RESOURCES is unset: the scope is ${DEFAULT_SCOPE.join(', ')}`,
    ],
  };
}
