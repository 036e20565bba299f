// Vault / OpenBao transit keys as rekey names them and reasons about them. REKEY_KMS_KEY names a
// transit key by its API path under /v1, `<mount>/keys/<name>` (`transit/keys/kms`). The Vault KMS
// v2 plugins people run report the key's latest version as the key_id, a bare decimal (`3`), so a
// rotation on the server is a key_id change (docs/kms-facts.md §8). Pure: no I/O.
import type { InventoryRow } from './key-inventory.ts';

export interface TransitKeyRef {
  /** The secrets engine's mount path, e.g. `transit` or `kms/transit`. */
  mount: string;
  name: string;
}

const SEGMENT = '[A-Za-z0-9_.-]+';
const TRANSIT_PATH = new RegExp(`^(${SEGMENT}(?:/${SEGMENT})*)/keys/(${SEGMENT})$`);

/** `<mount>/keys/<name>` split into its parts, or undefined for any other form of key. */
export function parseTransitKey(key: string): TransitKeyRef | undefined {
  const m = TRANSIT_PATH.exec(key);
  if (!m?.[1] || !m[2]) return undefined;
  // `.` and `..` segments would address another path of the server
  if (m[1].split('/').some((s) => s === '.' || s === '..') || m[2] === '.' || m[2] === '..') {
    return undefined;
  }
  return { mount: m[1], name: m[2] };
}

/** The transit key version a key_id names (`3`), or undefined when it is not one. */
export function transitVersionOf(keyId: string): number | undefined {
  if (!/^[1-9][0-9]{0,9}$/.test(keyId)) return undefined;
  return Number(keyId);
}

/** The key_id the plugins report for a version: the version in decimal. */
export function transitKeyId(version: number): string {
  return String(version);
}

/** The version a transit ciphertext (`vault:v3:<base64>`) was made under, or undefined. */
export function transitCiphertextVersion(ciphertext: string): number | undefined {
  const m = /^vault:v([1-9][0-9]{0,9}):/.exec(ciphertext);
  return m?.[1] ? Number(m[1]) : undefined;
}

/** What the server says about a transit key's versions (GET <mount>/keys/<name>). */
export interface TransitKeyState {
  latestVersion: number;
  /** Versions below it can no longer decrypt: the server refuses them ("too old"). */
  minDecryptionVersion: number;
}

/** key_ids still in etcd whose version the transit key can no longer decrypt. */
export interface UndecryptableKeyId {
  /** The KMS provider the values are stored under. */
  provider: string;
  keyId: string;
  version: number;
  objects: number;
}

/**
 * The key_ids in the etcd inventory, under any KMS provider, that name a version below the key's
 * min_decryption_version: those objects can no longer be read once the apiservers' cached DEK
 * seeds are gone (a restart). Every provider is judged, not only the one rekey follows: after a
 * switch the transit key may sit behind the provider written before it, whose values are the ones
 * at risk. key_ids that are not versions (AWS ARNs, GCP key versions, local keys) are not judged; a
 * second Vault key behind another provider would be judged against this key's state too (a false
 * alarm at worst, never a missed loss).
 */
export function undecryptableKeyIds(
  rows: readonly InventoryRow[],
  state: TransitKeyState,
): UndecryptableKeyId[] {
  const out: UndecryptableKeyId[] = [];
  for (const r of rows) {
    if (r.keyId === undefined) continue;
    if (r.kind !== 'kms-v2' && r.kind !== 'kms-v1') continue;
    const version = transitVersionOf(r.keyId);
    if (version !== undefined && version < state.minDecryptionVersion) {
      out.push({ provider: r.provider ?? '', keyId: r.keyId, version, objects: r.total });
    }
  }
  return out.sort((a, b) => a.version - b.version || a.provider.localeCompare(b.provider));
}

/** One line for people (and the key danger note): which versions, how many objects, why. */
export function describeUndecryptable(
  key: string,
  state: TransitKeyState,
  found: readonly UndecryptableKeyId[],
): string {
  const list = found
    .map((f) => `version ${f.version} (${f.objects} object(s)) under provider ${f.provider}`)
    .join(', ');
  return `${key}: min_decryption_version is ${state.minDecryptionVersion}, so ${list} still in etcd can no longer be decrypted`;
}
