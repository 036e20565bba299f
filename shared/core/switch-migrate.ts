// Stage 3 of a switch: rewrite every object in scope with rekey's no-op rewrite (after stage 2,
// an object read through a provider that is not first is stale, so the apiserver stores it again
// under the new write provider), then prove from etcd that no value in scope is still under the
// old write provider. Values are classified by their prefix only (`k8s:enc:kms:v2:<name>:`,
// `k8s:enc:aescbc:v1:<key>:`, plain data for identity), never decrypted or shown.
import type { ResourceCheckpoint } from '../domain/checkpoint.ts';
import type { EncryptionKind } from '../domain/encrypted-value.ts';
import {
  formatGroupResource,
  type GroupResource,
  parseGroupResource,
} from '../domain/group-resource.ts';
import { emptyCounts, type MigrationCounts, sumCounts } from '../domain/migration-counts.ts';
import { resourceForKey } from '../domain/storage-paths.ts';
import { migrateSlice } from './migrate-slice.ts';
import type { SwitchDeps } from './switch-deps.ts';

/** The write key a stored value names in its prefix: `identity`, `kms:<name>`, `aescbc:<key>`. */
export function storedWriteKey(v: { kind: EncryptionKind; provider?: string }): string {
  if (v.kind === 'identity') return 'identity';
  if (v.kind === 'kms-v2' || v.kind === 'kms-v1') return `kms:${v.provider ?? ''}`;
  if (v.kind === 'unknown') return 'unknown';
  return `${v.kind}:${v.provider ?? ''}`;
}

/** The concrete resources the patterns name: wildcards resolved through discovery. */
export async function concreteResources(
  deps: Pick<SwitchDeps, 'served'>,
  patterns: readonly string[],
): Promise<string[]> {
  const out = new Set<string>();
  const wild = patterns.filter((p) => p.includes('*'));
  const served = wild.length > 0 && deps.served ? await deps.served.list() : [];
  for (const p of patterns) {
    const gr = parseGroupResource(p);
    if (p === '*.*' || gr.resource === '*') {
      for (const r of served) {
        if (r.aggregated || !r.verbs.includes('list') || !r.verbs.includes('patch')) continue;
        if (p === '*.*' || r.group === gr.group) out.add(formatGroupResource(r));
      }
    } else out.add(formatGroupResource(gr));
  }
  return [...out].sort();
}

export interface MigrationResult {
  counts: MigrationCounts;
  /** Objects the apiserver refused to rewrite for good, by name. */
  failed: string[];
  /** The deadline passed at a page boundary: run again to finish (it starts over). */
  timedOut?: boolean;
}

/** Rewrites every object of `resources` once; the apiserver moves stale ones. */
export async function migrateAll(
  deps: SwitchDeps,
  resources: readonly string[],
  deadline: number,
): Promise<MigrationResult> {
  const totals: MigrationCounts[] = [];
  const failed: string[] = [];
  for (const resource of resources) {
    let checkpoint: ResourceCheckpoint = { resource, done: false, counts: emptyCounts() };
    let failures: { name: string }[] = [];
    while (!checkpoint.done) {
      const result = await migrateSlice({
        rewriter: deps.rewriter,
        checkpoint,
        failures: [],
        clock: deps.clock,
        // the command's --timeout, checked at page boundaries
        deadline,
        ...(deps.pageSize ? { pageSize: deps.pageSize } : {}),
        ...(deps.concurrency ? { concurrency: deps.concurrency } : {}),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        onPage: async () => true,
      });
      checkpoint = result.checkpoint;
      failures = result.failures.map((f) => ({
        name: `${resource} ${f.namespace ?? ''}/${f.name}`,
      }));
      if (result.stoppedBy === 'unavailable') {
        throw new Error(`the apiserver kept failing while rewriting ${resource}: ${result.reason}`);
      }
      if (result.stoppedBy === 'budget') {
        return { counts: sumCounts([...totals, checkpoint.counts]), failed, timedOut: true };
      }
      if (result.stoppedBy !== 'done' && !checkpoint.done) {
        throw new Error(`rewriting ${resource} stopped: ${result.stoppedBy}`);
      }
    }
    totals.push(checkpoint.counts);
    failed.push(...failures.map((f) => f.name));
  }
  return { counts: sumCounts(totals), failed };
}

export type OldProviderScan =
  | { available: false; reason: string }
  | { available: true; scanned: number; underOld: number; examples: string[] };

/** Counts the values of `resources` in etcd still stored under `oldWriteKey`. */
export async function scanForOldProvider(
  deps: Pick<SwitchDeps, 'scanner'>,
  resources: readonly string[],
  oldWriteKey: string,
): Promise<OldProviderScan> {
  if (!deps.scanner) {
    return { available: false, reason: 'no etcd access (REKEY_ETCD_ENDPOINTS): cannot prove it' };
  }
  const candidates: GroupResource[] = resources.map(parseGroupResource);
  let scanned = 0;
  let underOld = 0;
  const examples: string[] = [];
  try {
    for await (const v of deps.scanner.values()) {
      if (!resourceForKey(v.key, deps.scanner.prefix, candidates)) continue;
      scanned++;
      if (storedWriteKey(v) === oldWriteKey) {
        underOld++;
        if (examples.length < 5) examples.push(v.key);
      }
    }
  } catch (err) {
    return { available: false, reason: `etcd scan failed: ${(err as Error).message}` };
  }
  return { available: true, scanned, underOld, examples };
}
