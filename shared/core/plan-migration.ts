// `plan` as a use case: which objects a migration to the provider's current key_id would rewrite,
// counted per namespace. With etcd, only values not under that key count (the proof's own test,
// shared/domain/current-key.ts); without, every object in scope does, as a metadata-only listing
// (the slice engine's paging: retries, and a fresh count after a 410), since without etcd rekey
// rewrites them all. Changes nothing.
import { underCurrentKey } from '../domain/current-key.ts';
import { parseGroupResource } from '../domain/group-resource.ts';
import { type KnownKey, keyMatcher } from '../domain/key-id.ts';
import { newestObservation, observedKeyIdHash } from '../domain/observation.ts';
import { newestRevision } from '../domain/revision.ts';
import { storagePrefix } from '../domain/storage-paths.ts';
import type { ValueScanner } from '../ports/value-scanner.ts';
import type { ProviderConfig, ReconcileConfig, ReconcileDeps } from './deps.ts';
import { requireProvider } from './followed-provider.ts';
import { listPages } from './list-pages.ts';
import type { Scope } from './resolve-scope.ts';
import { currentScope } from './verify-now.ts';

export interface MigrationPlan {
  provider: string;
  keyIdHash: string;
  /** `etcd`: only values not under the key count; `listing`: every object in scope counts. */
  source: 'etcd' | 'listing';
  resources: string[];
  scope: Scope;
  /** Values (etcd) or objects (listing) of the resources in scope that were looked at. */
  scanned: number;
  toRewrite: number;
  /** Objects to rewrite per namespace (`''` for cluster-scoped ones), sorted by namespace. */
  perNamespace: [namespace: string, objects: number][];
}

export type PlanResult =
  | { kind: 'no-key-id'; provider: string }
  | { kind: 'planned'; plan: MigrationPlan };

/** A count per namespace, and how many were looked at. */
interface Tally {
  scanned: number;
  perNamespace: Map<string, number>;
}

/** Throws NoProviderError when REKEY_PROVIDER is unset and no provider can be followed now. */
export async function planMigration(
  deps: ReconcileDeps,
  settings: ReconcileConfig,
): Promise<PlanResult> {
  const config: ProviderConfig = { ...settings, provider: await requireProvider(deps, settings) };
  const scope = await currentScope(deps, config);
  const resources = scope.resources.map((r) => r.resource);
  const key = await targetKey(deps, config);
  if (!key) return { kind: 'no-key-id', provider: config.provider };
  const tally = deps.scanner
    ? await fromEtcd(deps.scanner, resources, config.provider, key)
    : await fromListing(deps, config, resources);
  const perNamespace = [...tally.perNamespace.entries()].sort(([a], [b]) => a.localeCompare(b));
  return {
    kind: 'planned',
    plan: {
      provider: config.provider,
      keyIdHash: key.keyIdHash,
      source: deps.scanner ? 'etcd' : 'listing',
      resources,
      scope,
      scanned: tally.scanned,
      toRewrite: perNamespace.reduce((n, [, c]) => n + c, 0),
      perNamespace,
    },
  };
}

/**
 * The key a migration would move to: the newest observation's, else the newest revision's; its
 * key_id, or only its hash where the apiservers' metrics were all that saw it.
 */
async function targetKey(
  deps: ReconcileDeps,
  config: ProviderConfig,
): Promise<KnownKey | undefined> {
  const seen = await deps.observer.observe(config.provider);
  const reported = newestObservation(seen.observations);
  if (reported) return { keyId: reported.keyId, keyIdHash: observedKeyIdHash(reported) };
  const stored = await deps.store.list(config.provider);
  return newestRevision(stored.map((s) => s.revision));
}

async function fromEtcd(
  scanner: ValueScanner,
  resources: readonly string[],
  provider: string,
  key: KnownKey,
): Promise<Tally> {
  const isCurrent = keyMatcher(key);
  // longest prefix first: `services/endpoints/` must not be taken for `services/`
  const prefixes = resources
    .map((r) => storagePrefix(parseGroupResource(r), scanner.prefix))
    .sort((a, b) => b.length - a.length);
  const tally: Tally = { scanned: 0, perNamespace: new Map() };
  for await (const v of scanner.values()) {
    const at = prefixes.find((p) => v.key.startsWith(p));
    if (at === undefined) continue;
    tally.scanned++;
    if (underCurrentKey(v, provider, isCurrent)) continue;
    const parts = v.key.slice(at.length).split('/');
    add(tally, parts.length > 1 ? (parts[0] ?? '') : '');
  }
  return tally;
}

async function fromListing(
  deps: ReconcileDeps,
  config: ProviderConfig,
  resources: readonly string[],
): Promise<Tally> {
  const total: Tally = { scanned: 0, perNamespace: new Map() };
  for (const resource of resources) {
    let tally: Tally = { scanned: 0, perNamespace: new Map() };
    const pages = listPages({
      rewriter: deps.rewriter,
      resource,
      ...(config.pageSize ? { pageSize: config.pageSize } : {}),
    });
    for await (const page of pages) {
      // a restarted listing counts the resource afresh: its objects may have changed meanwhile
      if (page.restarted) tally = { scanned: 0, perNamespace: new Map() };
      for (const item of page.items) add(tally, item.namespace);
      tally.scanned += page.items.length;
    }
    total.scanned += tally.scanned;
    for (const [ns, n] of tally.perNamespace) add(total, ns, n);
  }
  return total;
}

function add(tally: Tally, namespace: string, n = 1): void {
  tally.perNamespace.set(namespace, (tally.perNamespace.get(namespace) ?? 0) + n);
}
