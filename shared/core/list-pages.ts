// Paging through one resource as metadata only, the way both the slice engine and the migration
// plan need it: each page retried on what the rewriter declares retryable (shared/ports/retryable.ts,
// Retry-After honoured), and an expired continue token (410, etcd compacted past it) answered by
// listing again from the start. Lazy: a caller that stops pulling lists nothing more.
import { backoffDelayMs } from '../domain/backoff.ts';
import type { ListPage, ObjectRewriter } from '../ports/object-rewriter.ts';
import { isRetryable, retryAfterOf } from '../ports/retryable.ts';

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
}

/**
 * One page. `restarted`: the continue token had expired, so this is the first page of a fresh
 * listing; whatever the caller tallied for this resource is to be counted again.
 */
export interface ListedPage {
  items: ListPage['items'];
  continue?: string;
  restarted: boolean;
}

/** The apiserver answered 410 to a list that had no continue token: listing again cannot help. */
export class ListRestartError extends Error {
  override name = 'ListRestartError';
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Yields the pages of `resource` until the last one (the one without a continue token). */
export async function* listPages(o: ListPagesOptions): AsyncGenerator<ListedPage, void, undefined> {
  let token = o.from;
  let restarted = false;
  for (;;) {
    const page = await listWithRetry(o, token);
    if (page.expired) {
      if (token === undefined) {
        throw new ListRestartError(`list ${o.resource}: expired without a continue token`);
      }
      token = undefined;
      restarted = true;
      continue;
    }
    yield { items: page.items, ...(page.continue ? { continue: page.continue } : {}), restarted };
    if (!page.continue) return;
    token = page.continue;
    restarted = false;
  }
}

async function listWithRetry(o: ListPagesOptions, token: string | undefined): Promise<ListPage> {
  const { maxAttempts = 8, sleep = defaultSleep, pageSize = 500 } = o;
  for (let attempt = 1; ; attempt++) {
    try {
      return await o.rewriter.listPage({
        resource: o.resource,
        limit: pageSize,
        ...(token ? { continueToken: token } : {}),
      });
    } catch (err) {
      if (!isRetryable(err) || attempt >= maxAttempts) throw err;
      await sleep(
        backoffDelayMs({ attempt, retryAfterSeconds: retryAfterOf(err), random: o.random }),
      );
    }
  }
}
