// Which KMS provider rekey's key_id revisions follow (docs/architecture.md, "Observations and
// revisions"): the one REKEY_PROVIDER pins, else the kms provider that writes in the
// EncryptionConfiguration every fresh key-id report names. After a KMS -> KMS switch the nodes'
// files name the new provider, so rekey follows it with no setting to change. While nodes name
// different write providers (a switch rolling out) rekey waits; a file in which two kms providers
// write (for different resources) or none does is something only an operator can settle.
import type { EncryptionConfigEntry } from './encryption-config.ts';

/** One fresh key-id report's reading of its node's EncryptionConfiguration. */
export interface NodeConfigReading {
  node: string;
  /** Every entry of the file; absent when the reporter sent none (an older reporter). */
  entries?: readonly EncryptionConfigEntry[] | undefined;
}

export type FollowedProvider =
  | { kind: 'follow'; provider: string; source: 'pinned' | 'reports' }
  /** Will settle by itself: no configuration reported yet, or a switch rolling out. */
  | { kind: 'wait'; reason: string }
  /** Needs someone: several kms providers write, or none does. */
  | { kind: 'unresolved'; reason: string };

/** The kms providers first in some entry of a file: the ones that encrypt writes. */
export function kmsWriteProviders(entries: readonly EncryptionConfigEntry[]): string[] {
  const names = new Set<string>();
  for (const e of entries) {
    const first = e.providers[0];
    if (first?.type === 'kms' && first.name) names.add(first.name);
  }
  return [...names].sort();
}

const PIN = 'set REKEY_PROVIDER to pin the provider rekey follows';

export function decideFollowedProvider({
  pinned,
  readings,
}: {
  pinned?: string | undefined;
  readings: readonly NodeConfigReading[];
}): FollowedProvider {
  if (pinned) return { kind: 'follow', provider: pinned, source: 'pinned' };
  const byNode = new Map<string, Set<string>>();
  for (const r of readings) {
    if (!r.entries) continue;
    const key = kmsWriteProviders(r.entries).join(',');
    byNode.set(r.node, (byNode.get(r.node) ?? new Set()).add(key));
  }
  if (byNode.size === 0) {
    return {
      kind: 'wait',
      reason: `no fresh key-id report names its node's EncryptionConfiguration yet (no reporter with ENCRYPTION_CONFIG_FILE, or none running: on a hosted control plane ${PIN})`,
    };
  }
  const views = [...byNode].map(([node, keys]) => ({ node, keys: [...keys] }));
  const distinct = new Set(views.flatMap((v) => v.keys));
  if (distinct.size > 1) {
    const said = views
      .map((v) => `${v.node}: ${v.keys.map((k) => k || 'no kms').join(' / ')}`)
      .join('; ');
    return {
      kind: 'wait',
      reason: `the nodes name different kms write providers (${said}): a configuration change is rolling out; rekey follows once every node agrees, or ${PIN}`,
    };
  }
  const names = ([...distinct][0] ?? '').split(',').filter((n) => n !== '');
  const [only] = names;
  if (names.length === 1 && only) return { kind: 'follow', provider: only, source: 'reports' };
  if (names.length === 0) {
    return {
      kind: 'unresolved',
      reason: `no kms provider writes in the EncryptionConfiguration every node runs: no key_id to follow (${PIN} for one that still reads)`,
    };
  }
  return {
    kind: 'unresolved',
    reason: `several kms providers write (${names.join(', ')}, for different resources): ${PIN}`,
  };
}
