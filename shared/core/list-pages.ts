// Paging through one resource as metadata only, the way both the slice engine and the migration
// plan need it: each page retried on what the rewriter declares retryable (shared/ports/retryable.ts,
// Retry-After honoured), and an expired continue token (410, etcd compacted past it) answered with
// the token the 410 carries: the apiserver's "inconsistent continue", which goes on after the same
// key at the newest resourceVersion (shared/adapters/k8s/object-rewriter.ts). Nothing is skipped:
// an object it lists differently from the expired listing was written meanwhile, so under the
// current key, and one it no longer lists is gone. Only a 410 without a token lists again from the
// start. Lazy: a caller that stops pulling lists nothing more; an aborted signal stops it at once.
import { backoffDelayMs } from '../domain/backoff.ts';
import type { ListPage, ObjectRewriter } from '../ports/object-rewriter.ts';
import { isRetryable, retryAfterOf } from '../ports/retryable.ts';
import { untilAborted } from './until-aborted.ts';

export interface ListPagesOptions {
  rewriter: ObjectRewriter;
  resource: string;
  /** Resume after this continue token; absent = from the start. */
  from?: string;
  pageSize?: number;
  /** Attempts per page before a retryable error is thrown (default 8). */
  maxAttempts?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  /** Cancels the list in flight and any wait between attempts: the listing rejects with its reason. */
  signal?: AbortSignal;
}

/**
 * One page. `restarted`: the continue token had expired and the 410 carried none to go on with, so
 * this is the first page of a fresh listing; whatever the caller tallied for this resource is to be
 * counted again. `resumed`: the token had expired and the listing went on with the one the 410
 * carried, at a newer resourceVersion; the tally stands.
 */
export interface ListedPage {
  items: ListPage['items'];
  continue?: string;
  restarted: boolean;
  resumed: boolean;
}

/** The apiserver answered 410 to a list that had no continue token: listing again cannot help. */
export class ListRestartError extends Error {
  override name = 'ListRestartError';
}

/** Expired tokens in a row, each answered with another to go on with, before giving up. */
const MAX_EXPIRED_IN_A_ROW = 3;

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Yields the pages of `resource` until the last one (the one without a continue token). */
export async function* listPages(o: ListPagesOptions): AsyncGenerator<ListedPage, void, undefined> {
  let token = o.from;
  let restarted = false;
  let resumed = false;
  let expiredInARow = 0;
  for (;;) {
    const page = await listWithRetry(o, token);
    if (page.expired) {
      if (token === undefined) {
        throw new ListRestartError(`list ${o.resource}: expired without a continue token`);
      }
      if (page.continue && ++expiredInARow <= MAX_EXPIRED_IN_A_ROW) {
        token = page.continue;
        resumed = true;
        continue;
      }
      token = undefined;
      restarted = true;
      resumed = false;
      continue;
    }
    expiredInARow = 0;
    yield {
      items: page.items,
      ...(page.continue ? { continue: page.continue } : {}),
      restarted,
      resumed,
    };
    if (!page.continue) return;
    token = page.continue;
    restarted = false;
    resumed = false;
  }
}

async function listWithRetry(o: ListPagesOptions, token: string | undefined): Promise<ListPage> {
  const { maxAttempts = 8, sleep = defaultSleep, pageSize = 500, signal } = o;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await o.rewriter.listPage({
        resource: o.resource,
        limit: pageSize,
        ...(token ? { continueToken: token } : {}),
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      signal?.throwIfAborted();
      if (!isRetryable(err) || attempt >= maxAttempts) throw err;
      await untilAborted(
        sleep(backoffDelayMs({ attempt, retryAfterSeconds: retryAfterOf(err), random: o.random })),
        signal,
      );
    }
  }
}
