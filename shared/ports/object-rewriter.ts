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
  /**
   * Where the next page starts; absent on the last page. On an expired page, the token the 410
   * carried, when it carried one: it resumes after the same key at the newest resourceVersion.
   */
  continue?: string;
  /**
   * The continue token had expired (410, etcd compacted past it): no items. With `continue`, go on
   * from there; without, only a listing from the start can go on.
   */
  expired?: boolean;
}

/** What every call may carry: a signal that cancels it (the call then rejects with its reason). */
export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * Lists and rewrites objects of a resource. Guarantees: lists return metadata only (never `data`);
 * `noOpPatch` changes nothing and carries `uid` + `resourceVersion` preconditions, and
 * `forcedPatch` makes exactly one real change (a rekey annotation) under the same preconditions;
 * both report HTTP outcomes as a {@link PatchAttempt} instead of throwing. A call whose signal
 * aborts rejects with the signal's reason instead: its outcome is unknown, not a failure to retry.
 */
export interface ObjectRewriter {
  listPage(
    request: { resource: string; continueToken?: string; limit: number } & CallOptions,
  ): Promise<ListPage>;
  noOpPatch(resource: string, ref: ObjectRef, options?: CallOptions): Promise<PatchAttempt>;
  forcedPatch(
    resource: string,
    ref: ObjectRef,
    marker: string,
    options?: CallOptions,
  ): Promise<PatchAttempt>;
}
