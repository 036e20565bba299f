// The key inventory: every key_id (and every other encryption) found under the etcd prefix, with
// object counts per storage path, read without decrypting. Pure: it folds classifications, never
// values, so the same scan can answer "which keys protect my data?" and "can I retire this one?".
import type { EncryptionKind } from './encrypted-value.ts';
import { keyIdHash } from './key-id.ts';
import type { ScannedValue } from './proof.ts';

/** One way values are stored: a key_id of a KMS provider, another scheme, or plaintext. */
export interface InventoryRow {
  kind: EncryptionKind;
  /** The KMS provider name, or the key name of aescbc/aesgcm/secretbox. */
  provider?: string;
  keyId?: string;
  keyIdHash?: string;
  total: number;
  /** Counts per storage path under the prefix (`secrets`, `example.com/widgets`, `services/specs`). */
  byPath: Record<string, number>;
}

export interface KeyInventory {
  prefix: string;
  totalScanned: number;
  rows: InventoryRow[];
}

/** The storage path of a key: `<prefix>/<path>/[<namespace>/]<name>`; group paths have two segments. */
export function storagePathOf(key: string, prefix: string): string {
  const base = `${prefix.replace(/\/+$/, '')}/`;
  const rest = key.startsWith(base) ? key.slice(base.length) : key;
  const parts = rest.split('/');
  const first = parts[0] ?? '';
  // custom and aggregated resources live under <group>/<plural>; the apiserver's own `services`
  // prefix is split into specs and endpoints
  if ((first.includes('.') || first === 'services') && parts.length > 2) {
    return `${first}/${parts[1]}`;
  }
  return first;
}

function rowKey(kind: string, provider = '', keyId = ''): string {
  return JSON.stringify([kind, provider, keyId]);
}

/** Folds a scan into an inventory; `add` each value, then `result`. */
export class InventoryTally {
  readonly #prefix: string;
  readonly #rows = new Map<string, InventoryRow>();
  #total = 0;

  constructor(prefix: string) {
    this.#prefix = prefix;
  }

  add(v: ScannedValue): void {
    this.#total++;
    const k = rowKey(v.kind, v.provider, v.keyID);
    let row = this.#rows.get(k);
    if (!row) {
      row = { kind: v.kind, total: 0, byPath: {} };
      if (v.provider) row.provider = v.provider;
      if (v.keyID !== undefined) {
        row.keyId = v.keyID;
        row.keyIdHash = keyIdHash(v.keyID);
      }
      this.#rows.set(k, row);
    }
    row.total++;
    const path = storagePathOf(v.key, this.#prefix);
    row.byPath[path] = (row.byPath[path] ?? 0) + 1;
  }

  result(): KeyInventory {
    const key = (r: InventoryRow) => rowKey(r.kind, r.provider, r.keyId);
    const rows = [...this.#rows.values()].sort(
      (a, b) => b.total - a.total || key(a).localeCompare(key(b)),
    );
    return { prefix: this.#prefix, totalScanned: this.#total, rows };
  }
}

/**
 * The KMS provider whose value `v` is wrapped by `keyId`, whichever provider that is, or undefined.
 * A key_id still needed under any provider (the one written before a switch included) keeps its key.
 */
export function kmsProviderWrapping(v: ScannedValue, keyId: string): string | undefined {
  if (v.kind !== 'kms-v2' && v.kind !== 'kms-v1') return undefined;
  return v.keyID === keyId ? (v.provider ?? '') : undefined;
}
