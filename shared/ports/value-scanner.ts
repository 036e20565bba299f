// Port: every value under the etcd prefix, classified without decrypting (the key inventory).

import type { ScannedValue } from '../domain/proof.ts';

/**
 * Scans etcd. Guarantees: read-only; one snapshot per call; yields each value's key and
 * classification (kind, provider, key_id) only, never the value; throws when etcd cannot be read.
 */
export interface ValueScanner {
  readonly prefix: string;
  values(): AsyncIterable<ScannedValue>;
}
