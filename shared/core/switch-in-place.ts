// The proof a switch needs when the running configuration already writes the requested resources
// with the target (a file edited by hand, an earlier switch): stage 3's etcd scan, asking which
// values in scope are stored under any other write key. Values are classified by their prefix only
// (./switch-migrate.ts), never decrypted or shown. Values left under another key are migrated by a
// `write` revision of the same text, so stage 3 runs as in any switch, and the proof is taken again.

import { ConfigRevision } from '../domain/encryption-revisions/revision.ts';
import { nextRevisionNumber } from '../domain/encryption-revisions/switch-state.ts';
import { parseGroupResource } from '../domain/group-resource.ts';
import { resourceForKey } from '../domain/storage-paths.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { concreteResources, storedWriteKey } from './switch-migrate.ts';
import type { SwitchOutcome } from './switch-run.ts';
import { baselineNow } from './switch-save.ts';

export type InPlaceScan =
  | { available: false; reason: string }
  | {
      available: true;
      scanned: number;
      /** Values in scope per write key other than the target's, most first. */
      others: Array<{ key: string; count: number }>;
    };

/** Counts the values of `resources` in etcd stored under another write key than `targetKey`. */
export async function scanForOtherProviders(
  deps: Pick<SwitchDeps, 'scanner'>,
  resources: readonly string[],
  targetKey: string,
): Promise<InPlaceScan> {
  if (!deps.scanner) {
    return { available: false, reason: 'no etcd access (REKEY_ETCD_ENDPOINTS): cannot prove it' };
  }
  const candidates = resources.map(parseGroupResource);
  const counts = new Map<string, number>();
  let scanned = 0;
  try {
    for await (const v of deps.scanner.values()) {
      if (!resourceForKey(v.key, deps.scanner.prefix, candidates)) continue;
      scanned++;
      const key = storedWriteKey(v);
      if (key !== targetKey) counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  } catch (err) {
    return { available: false, reason: `etcd scan failed: ${(err as Error).message}` };
  }
  const others = [...counts]
    .map(([key, count]) => ({ key, count }))
    .sort((a, b) => b.count - a.count || a.key.localeCompare(b.key));
  return { available: true, scanned, others };
}

/**
 * The running configuration already writes `resources` with `wanted`: completed only if etcd shows
 * no value in scope under another write key. Otherwise (when `migrate`) stage 3 runs on a `write`
 * revision of the same text, from the most common other key, and the proof is taken again after it.
 */
export async function proveInPlace(
  deps: SwitchDeps,
  stored: StoredConfigRevision[],
  current: StoredConfigRevision,
  resources: string[],
  wanted: string,
  note: (line: string) => void,
  migrate: boolean,
): Promise<SwitchOutcome | undefined> {
  const what = `${resources.join(', ')} already written with ${wanted}`;
  const scan = await scanForOtherProviders(deps, await concreteResources(deps, resources), wanted);
  if (!scan.available) return { state: 'unverifiable', message: `${what}, but ${scan.reason}` };
  if (scan.others.length === 0) {
    return {
      state: 'completed',
      message: `${what}; etcd: ${scan.scanned} value(s) in scope, none under another provider`,
    };
  }
  const held = scan.others.map((o) => `${o.count} under ${o.key}`).join(', ');
  if (!migrate) {
    return {
      state: 'degraded',
      message: `${what}, but etcd still holds value(s) not under ${wanted} after migrating them: ${held}`,
    };
  }
  const number = nextRevisionNumber(stored.map((s) => s.record));
  const revision = new ConfigRevision(number, 'write', current.text);
  const from = scan.others[0]?.key ?? 'unknown';
  const created = await deps.revisions.create(
    {
      number,
      stage: 'write',
      hash: revision.hash,
      state: 'rolling-out',
      switch: { id: number, target: wanted, from, to: wanted, resources },
      reloadBaseline: await baselineNow(deps),
    },
    current.text,
  );
  if (!created) throw new Error(`revision ${number} already exists (another runner?): run again`);
  note(
    `${what}, but etcd holds value(s) not under ${wanted} (${held}): migrating them (revision ${number}, write)`,
  );
  return undefined;
}
