// Stage 3 of a switch: rewrite every object in scope with rekey's no-op rewrite (after stage 2,
// an object read through a provider that is not first is stale, so the apiserver stores it again
// under the new write provider), then prove from etcd that no value in scope is still under the
// old write provider. Values are classified by their prefix only (`k8s:enc:kms:v2:<name>:`,
// `k8s:enc:aescbc:v1:<key>:`, plain data for identity), never decrypted or shown. The rewrite is
// the key-rotation engine's (./migrate-slice.ts), checkpointed after every page through `save`
// (the switch keeps it on its `write` revision), so a run that stops at its deadline is resumed by
// the next one from the page it stopped at; an expired continue token restarts the listing there.
import type { EncryptionKind } from '../domain/encrypted-value.ts';
import {
  advanceStageProgress,
  emptyStageProgress,
  resumePoint,
  type StageProgress,
} from '../domain/encryption-revisions/stage-progress.ts';
import {
  formatGroupResource,
  type GroupResource,
  parseGroupResource,
} from '../domain/group-resource.ts';
import { emptyCounts, type MigrationCounts, sumCounts } from '../domain/migration-counts.ts';
import { resourceForKey } from '../domain/storage-paths.ts';
import type { ObjectRef } from '../ports/object-rewriter.ts';
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
  /** Summed over every resource, pages of earlier runs included. */
  counts: MigrationCounts;
  /** Objects the apiserver refused to rewrite for good, by name. */
  failed: string[];
  /** The deadline passed at a page boundary: run again to go on from the saved progress. */
  timedOut?: boolean;
}

export interface MigrateAllOptions {
  /** Epoch ms on deps.clock past which no new page starts (at least one page is rewritten). */
  deadline: number;
  /** Where earlier runs stopped; absent: from the start. */
  progress?: StageProgress | undefined;
  /** Persists the progress after each page; false: another runner changed it (stop). */
  save: (progress: StageProgress) => Promise<boolean>;
  /** An object saving the progress writes anyway (the revision's own Secret): left alone. */
  ownWrite?: ((ref: ObjectRef) => boolean) | undefined;
}

/** Rewrites every object of `resources` once, from the saved progress; the apiserver moves stale ones. */
export async function migrateAll(
  deps: SwitchDeps,
  resources: readonly string[],
  o: MigrateAllOptions,
): Promise<MigrationResult> {
  let progress = o.progress ?? emptyStageProgress();
  let pages = 0;
  const totals: MigrationCounts[] = [];
  for (const resource of resources) {
    const checkpoint = resumePoint(progress, resource);
    if (!checkpoint.done) {
      const result = await migrateSlice({
        rewriter: deps.rewriter,
        checkpoint,
        failures: [],
        clock: deps.clock,
        deadline: o.deadline,
        // a run whose fixed work alone outlasts its budget still moves the migration on
        minPages: pages === 0 ? 1 : 0,
        ...(deps.pageSize ? { pageSize: deps.pageSize } : {}),
        ...(deps.concurrency ? { concurrency: deps.concurrency } : {}),
        ...(deps.limit ? { limit: deps.limit } : {}),
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
        ...(o.ownWrite ? { ownWrite: o.ownWrite } : {}),
        onPage: async (cp, failures) => {
          pages++;
          const names = failures.map((f) => `${resource} ${f.namespace ?? ''}/${f.name}`);
          const next = advanceStageProgress(progress, cp, names);
          if (!(await o.save(next))) return false;
          progress = next;
          return true;
        },
      });
      if (result.stoppedBy === 'unavailable') {
        throw new Error(`the apiserver kept failing while rewriting ${resource}: ${result.reason}`);
      }
      if (result.stoppedBy === 'aborted') {
        throw new Error('stage 3 progress changed meanwhile (another runner?): run again');
      }
      if (result.stoppedBy === 'budget') {
        return {
          counts: sumCounts(progress.checkpoints.map((c) => c.counts)),
          failed: progress.failed,
          timedOut: true,
        };
      }
    }
    totals.push(resumePoint(progress, resource).counts);
  }
  return { counts: totals.length > 0 ? sumCounts(totals) : emptyCounts(), failed: progress.failed };
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
