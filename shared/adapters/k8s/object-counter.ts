// Counts the objects of a resource through the API, metadata only: what the proof compares each
// resource's etcd scan against. One `limit=1` list gives the count from `remainingItemCount`; when
// the apiserver leaves it out, the count pages through metadata lists, going on after a 410 with
// the token it carries (as the slice engine does): a count of a listing that moved on is no less
// exact than any count next to an etcd scan taken at another moment.
import { parseWithoutAnnotations } from './metadata-only.ts';
import { METADATA_LIST } from './object-rewriter.ts';
import { createResourceResolver } from './resource-paths.ts';
import type { RestClient } from './rest-client.ts';

const PAGE = 500;

interface CountedPage {
  metadata?: { continue?: string; remainingItemCount?: number };
  items?: unknown[];
}

/** `count(resource)`: how many objects the API lists now; throws when it cannot list them. */
export function createObjectCounter(rest: RestClient): (resource: string) => Promise<number> {
  const paths = createResourceResolver(rest);
  return async (resource) => {
    const { listPath } = await paths(resource);
    let total = 0;
    let continueToken: string | undefined;
    let limit = 1;
    for (;;) {
      const r = await rest.request({
        path: listPath,
        query: { limit, continue: continueToken },
        accept: METADATA_LIST,
      });
      const resumeAt = r.status === 410 && continueToken ? expiredContinueOf(r.body) : undefined;
      // only with a token other than the one that expired: no loop on a server answering 410 to it
      if (resumeAt && resumeAt !== continueToken) {
        continueToken = resumeAt;
        continue;
      }
      if (r.status !== 200) throw new Error(`count ${resource}: HTTP ${r.status}`);
      // counted, not kept; parsed without annotations all the same (metadata-only.ts)
      const page = parseWithoutAnnotations<CountedPage>(r.body);
      total += page.items?.length ?? 0;
      const remaining = page.metadata?.remainingItemCount;
      if (remaining !== undefined) return total + remaining;
      continueToken = page.metadata?.continue || undefined;
      if (!continueToken) return total;
      limit = PAGE;
    }
  };
}

/** The token of an expired continue's 410 Status (`metadata.continue`), if it carries one. */
function expiredContinueOf(body: string): string | undefined {
  try {
    const c = parseWithoutAnnotations<CountedPage>(body).metadata?.continue;
    return c || undefined;
  } catch {
    return undefined;
  }
}
