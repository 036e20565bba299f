// Port: the metadata-only list and the precondition-guarded no-op patch (docs/architecture.md R4).

import type { PatchAttempt } from '../domain/rewrite-outcome.ts';

/** Enough of an object to patch it safely. Metadata only: never data. */
export interface ObjectRef {
  /** '' for cluster-scoped resources. */
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
}

/** One page of a metadata-only list. */
export interface ListPage {
  items: ObjectRef[];
  /** Where the next page starts; absent on the last page. */
  continue?: string;
  /** The continue token had expired (410): no items; list again from the start. */
  expired?: boolean;
}

/**
 * Lists and rewrites objects of a resource. Guarantees: lists return metadata only (never `data`);
 * `noOpPatch` changes nothing and carries `uid` + `resourceVersion` preconditions, and
 * `forcedPatch` makes exactly one real change (a rekey annotation) under the same preconditions;
 * both report HTTP outcomes as a {@link PatchAttempt} instead of throwing.
 */
export interface ObjectRewriter {
  listPage(request: { resource: string; continueToken?: string; limit: number }): Promise<ListPage>;
  noOpPatch(resource: string, ref: ObjectRef): Promise<PatchAttempt>;
  forcedPatch(resource: string, ref: ObjectRef, marker: string): Promise<PatchAttempt>;
}
