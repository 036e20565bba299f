// Which revision records may go (docs/architecture.md R10: keep the newest N, never one that may
// still protect data). A revision's key may protect data until a newer revision of the same
// provider has been proven, from etcd, to leave nothing in scope under any other key: Completed
// with a clean verification. Completed without etcd access proves nothing, so it unlocks no
// pruning, and revisions then accumulate past `keep`; that is the safe side (a record holds only a
// key_id).

import type { Revision } from './revision.ts';

/** Options of {@link revisionsToPrune}. */
export interface PruneOptions {
  /** How many of each provider's newest revisions to keep regardless (at least 1). */
  keep?: number;
}

/**
 * The names of the revisions that can be deleted: per provider, beyond the newest `keep`, and
 * older than a revision that is Completed with a clean verification. Sorted by provider, number.
 *
 * @example revisionsToPrune(revisions, { keep: 3 })
 */
export function revisionsToPrune(
  revisions: readonly Revision[],
  { keep = 10 }: PruneOptions = {},
): string[] {
  const keepN = Math.max(1, Math.floor(Number.isFinite(keep) ? keep : 10));
  const byProvider = new Map<string, Revision[]>();
  for (const r of revisions) {
    const list = byProvider.get(r.provider) ?? [];
    list.push(r);
    byProvider.set(r.provider, list);
  }
  const out: Revision[] = [];
  for (const list of byProvider.values()) {
    list.sort((a, b) => b.number - a.number);
    const proven = list.find(isProven);
    if (!proven) continue;
    out.push(...list.slice(keepN).filter((r) => r.number < proven.number));
  }
  out.sort((a, b) => a.provider.localeCompare(b.provider) || a.number - b.number);
  return out.map((r) => r.name);
}

/** Completed, and an etcd scan found nothing in scope under another key. */
export function isProven(revision: Revision): boolean {
  return revision.phase === 'Completed' && revision.verification?.clean === true;
}
