// Port: where revisions live (in the cluster: one Secret per revision in rekey's namespace).

import type { Revision } from '../domain/revision.ts';

/** A revision and the opaque version it was read at (a Secret's resourceVersion). */
export interface StoredRevision {
  revision: Revision;
  version: string;
}

/** The answer to a create-if-absent: `exists` carries the revision that won the name. */
export type CreateResult =
  | { result: 'created'; stored: StoredRevision }
  | { result: 'exists'; stored: StoredRevision };

/** The answer to a conditional update or delete. */
export type WriteResult =
  | { result: 'updated'; stored: StoredRevision }
  | { result: 'deleted' }
  | { result: 'conflict' };

/**
 * Revision records. Guarantees: `createIfAbsent` is atomic on `revision.name`, so of concurrent
 * creators exactly one gets `created` and the others `exists` with the stored revision; `update`
 * and `delete` apply only if the record is still at `expectedVersion`, else `conflict` (also when
 * it no longer exists); nothing is ever written without such a precondition.
 */
export interface RevisionStore {
  /** Every revision of `provider`, in no particular order. */
  list(provider: string): Promise<StoredRevision[]>;
  createIfAbsent(revision: Revision): Promise<CreateResult>;
  update(revision: Revision, expectedVersion: string): Promise<WriteResult>;
  delete(name: string, expectedVersion?: string): Promise<WriteResult>;
}
