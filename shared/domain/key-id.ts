// How kube-apiserver names a KMS key_id in its metrics: never the key_id itself, its hash. Where
// no reporter can read the plugin (hosted control planes), the hash is all rekey knows of a key,
// so a revision may hold only the hash (docs/architecture.md, "Hosted control planes").
import { createHash } from 'node:crypto';

/** `sha256:` + hex(sha256(utf8(keyId))), as in `apiserver_envelope_encryption_key_id_hash_*`. */
export function keyIdHash(keyId: string): string {
  return `sha256:${createHash('sha256').update(keyId, 'utf8').digest('hex')}`;
}

const KEY_ID_HASH = /^sha256:[0-9a-f]{64}$/;

/** Whether `value` has the form of {@link keyIdHash}'s result. */
export function isKeyIdHash(value: unknown): value is string {
  return typeof value === 'string' && KEY_ID_HASH.test(value);
}

/** A key as rekey knows it: its key_id (empty when only the hash was seen) and its hash. */
export interface KnownKey {
  keyId: string;
  keyIdHash: string;
}

/** Whether only the key_id's hash is known (observed from the apiservers' metrics alone). */
export function isHashOnly(key: Pick<KnownKey, 'keyId'>): boolean {
  return key.keyId === '';
}

/**
 * A test of a stored value's key_id against a known key: the key_id itself where known, else its
 * hash (hashes memoised: a proof scan meets the same few key_ids on every value).
 */
export function keyMatcher(key: KnownKey): (keyID: string) => boolean {
  if (!isHashOnly(key)) return (keyID) => keyID === key.keyId;
  const seen = new Map<string, boolean>();
  return (keyID) => {
    let hit = seen.get(keyID);
    if (hit === undefined) {
      hit = keyIdHash(keyID) === key.keyIdHash;
      if (seen.size < 1024) seen.set(keyID, hit);
    }
    return hit;
  };
}
