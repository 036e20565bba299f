// Stage 3 of a switch: rewrite every object in scope with rekey's no-op rewrite (after stage 2,
// an object read through a provider that is not first is stale, so the apiserver stores it again
// under the new write provider), then prove from etcd that no value in scope is still under the
// old write provider. Values are classified by their prefix only (`k8s:enc:kms:v2:<name>:`,
// `k8s:enc:aescbc:v1:<key>:`, plain data for identity), never decrypted or shown. The rewrite is
// the key-rotation engine's (./migrate-slice.ts), checkpointed after every page through `save`
// (the switch keeps it on its `write` revision), so a run that stops at its deadline is resumed by
// the next one from the page it stopped at; an expired continue token restarts the listing there.
// Each outcome is recorded on that revision too (`migrated`, then `verified`), so the stage machine
// (./switch-encryption.ts) moves on to removing the old provider only once the proof holds.
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
import { isRevisionSecret } from '../domain/revision-secret.ts';
import { resourceForKey } from '../domain/storage-paths.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import type { ObjectRef } from '../ports/object-rewriter.ts';
import { migrateSlice } from './migrate-slice.ts';
import type { SwitchDeps } from './switch-deps.ts';
import type { SwitchOutcome } from './switch-run.ts';
import { changed, save } from './switch-save.ts';

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
  /**
   * The Secret that stores the revision `save` writes: saving writes it anyway, so it is left alone
   * (only as a Secret: an object of another resource with its namespace and name is the user's).
   */
  revisionObject?: { namespace: string; name: string } | undefined;
}

/** Rewrites every object of `resources` once, from the saved progress; the apiserver moves stale ones. */
export async function migrateAll(
  deps: SwitchDeps,
  resources: readonly string[],
  o: MigrateAllOptions,
): Promise<MigrationResult> {
  let progress = o.progress ?? emptyStageProgress();
  const revision = o.revisionObject;
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
        ...(revision
          ? { ownWrite: (ref: ObjectRef) => isRevisionSecret(resource, ref, revision) }
          : {}),
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

/**
 * Stage 3 on its `write` revision, one step per call: the rewrite (recorded `migrated`, or Degraded
 * naming the objects the apiserver refused), then the proof from etcd (recorded `verified`, or the
 * rewrite once more for values still under the old provider). Undefined: decide again from the
 * stored revisions.
 */
export async function migrateStage(
  deps: SwitchDeps,
  revision: StoredConfigRevision,
  deadline: number,
  note: (line: string) => void,
): Promise<SwitchOutcome | undefined> {
  let s = revision;
  const sw = s.record.switch;
  if (!sw) throw new Error(`revision ${s.record.number} has no switch record`);
  const resources = await concreteResources(deps, sw.resources);
  if (s.record.migration !== 'migrated') {
    const resuming = s.record.progress !== undefined;
    note(
      `${resuming ? 'resuming the migration of' : 'migrating'} ${resources.join(', ')} from ${sw.from} to ${sw.to}`,
    );
    const m = await migrateAll(deps, resources, {
      deadline,
      progress: s.record.progress,
      // after every page: the next run goes on from there
      save: async (progress) => {
        const version = await deps.revisions.update(changed(s, { progress }), s.version);
        if (version === false) return false;
        s = { ...s, record: changed(s, { progress }), version };
        return true;
      },
      revisionObject: deps.revisions.objectOf?.(s.record.number),
    });
    const c = m.counts;
    if (m.timedOut) {
      return {
        state: 'timeout',
        message: `stage 3 (migration) not finished: listed=${c.listed} so far (the next run goes on from there)`,
      };
    }
    note(
      `migrated: listed=${c.listed} re-encrypted=${c.reencrypted} unchanged=${c.unchanged} conflicts=${c.conflicts} gone=${c.gone} failed=${c.failed}`,
    );
    if (m.failed.length > 0) {
      const reason = `the apiserver refused to rewrite ${m.failed.slice(0, 5).join(', ')}`;
      // the next run rewrites everything again, retrying the refused objects with the rest
      await save(deps, s, { degraded: reason, progress: undefined });
      return { state: 'degraded', message: reason };
    }
    await save(deps, s, { migration: 'migrated', degraded: undefined, progress: undefined });
    return undefined;
  }
  const scan = await scanForOldProvider(deps, resources, sw.from);
  if (!scan.available) {
    return {
      state: 'unverifiable',
      message: `migrated, but ${scan.reason}; ${sw.from} is not removed`,
    };
  }
  if (scan.underOld > 0) {
    // written meanwhile by a client through an old revision? migrate once more
    note(`${scan.underOld} value(s) still under ${sw.from}: migrating again`);
    await save(deps, s, { migration: undefined, progress: undefined });
    return undefined;
  }
  note(`etcd: ${scan.scanned} value(s) in scope, none under ${sw.from}`);
  await save(deps, s, { migration: 'verified' });
  return undefined;
}
