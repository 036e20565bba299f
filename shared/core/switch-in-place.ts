// The proof a switch needs when the running configuration already writes the requested resources
// with the target (a file edited by hand, an earlier switch): stage 3's etcd scan, asking which
// values in scope are stored under any other write key. Values are classified by their prefix only
// (./switch-migrate.ts), never decrypted or shown.

import { parseGroupResource } from '../domain/group-resource.ts';
import { resourceForKey } from '../domain/storage-paths.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { storedWriteKey } from './switch-migrate.ts';

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
