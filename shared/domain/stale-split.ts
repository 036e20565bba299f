// Work proportional to what is stale: splits one listed page into the objects a rewrite can move and
// those etcd already stores under the revision's key, from each object's stored classification
// (kind, provider, key_id: read without decrypting, shared/domain/encrypted-value.ts). Pure.
// When in doubt, rewrite: an object etcd holds no value for, a malformed value, KMS v1, another
// provider, identity or another key_id is stale; only a valid KMS v2 value of the provider under
// the target key_id is current (the same test as the proof's, shared/domain/current-key.ts).
import { underCurrentKey } from './current-key.ts';
import type { EncryptionInfo } from './encrypted-value.ts';
import { type KnownKey, keyMatcher } from './key-id.ts';

/** What etcd says of one stored value: its classification, never its bytes. */
export type StoredEncryption = Pick<EncryptionInfo, 'kind' | 'provider' | 'keyID' | 'error'>;

/** The key a page is judged against: the revision's provider and key (key_id, or its hash only). */
export interface StaleTarget {
  provider: string;
  key: KnownKey;
}

/** A page split in two, each keeping the page's order. */
export interface StaleSplit<T> {
  stale: T[];
  current: T[];
}

/**
 * Splits `items` by `stored` (index for index; `undefined`: etcd holds no value at the object's
 * key, so it cannot be shown current). Throws when the two lengths differ: a reader that lost an
 * object must not make it look current.
 */
export function splitStale<T>(
  items: readonly T[],
  stored: readonly (StoredEncryption | undefined)[],
  target: StaleTarget,
): StaleSplit<T> {
  if (stored.length !== items.length) {
    throw new RangeError(`${stored.length} stored classifications for ${items.length} objects`);
  }
  const isCurrent = keyMatcher(target.key);
  const split: StaleSplit<T> = { stale: [], current: [] };
  items.forEach((item, i) => {
    const s = stored[i];
    const current = s !== undefined && underCurrentKey(s, target.provider, isCurrent);
    (current ? split.current : split.stale).push(item);
  });
  return split;
}
