// Port: how etcd stores a page of objects now, classified without decrypting, so the rewrite engine
// patches only the stale ones (shared/domain/stale-split.ts).
import type { StoredEncryption } from '../domain/stale-split.ts';

/** An object of one resource, by where it lives: `namespace` '' for cluster-scoped resources. */
export interface StoredObjectName {
  namespace: string;
  name: string;
}

/**
 * Reads etcd. Guarantees: read-only and linearizable (what etcd holds now, not a stale member's
 * copy); returns one entry per object, index for index, `undefined` where etcd holds no value at
 * the object's key; each value is classified and dropped, never kept, returned or logged; throws
 * when etcd cannot be read (the caller then rewrites the whole page).
 */
export interface StoredEncryptionReader {
  read(
    resource: string,
    objects: readonly StoredObjectName[],
  ): Promise<(StoredEncryption | undefined)[]>;
}
