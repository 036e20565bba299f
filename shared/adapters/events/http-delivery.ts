// One HTTP POST of an outgoing event, with the failure translated at the boundary: a network
// error, a timeout or a non-2xx answer becomes a TransientError, retryable in the sense of
// shared/ports/retryable.ts (the caller retries later). Any non-2xx counts, not only the retryable
// statuses: an event that is not delivered is lost, and a Broker not ready yet answers 404. The
// target is named by origin and path only, since a URL's query or userinfo may hold a credential.

import { TransientError } from '../../http/errors.ts';

/** Options of {@link postEvent}. */
export interface PostEventOptions {
  url: string | URL;
  headers: Record<string, string>;
  body: string;
  fetch: typeof globalThis.fetch;
  timeoutMs: number;
}

/** `https://host/path` without userinfo, query or fragment. */
export function safeTarget(url: string | URL): string {
  try {
    const u = new URL(url);
    return `${u.origin}${u.pathname}`;
  } catch {
    return '(invalid URL)';
  }
}

function retryAfterSeconds(header: string | null): number | undefined {
  if (header === null) return undefined;
  const n = Number(header);
  return Number.isFinite(n) && n >= 0 ? n : undefined;
}

/** POSTs once; resolves on 2xx, rejects with a TransientError otherwise. */
export async function postEvent({
  url,
  headers,
  body,
  fetch,
  timeoutMs,
}: PostEventOptions): Promise<void> {
  const target = safeTarget(url);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers,
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (cause) {
    const why =
      cause instanceof Error && cause.name === 'TimeoutError' ? 'timed out' : 'unreachable';
    throw new TransientError(`${target} ${why}`, { cause });
  }
  // Drain the body so the connection can be reused.
  await res.arrayBuffer().catch(() => undefined);
  if (!res.ok) {
    const retryAfter = retryAfterSeconds(res.headers.get('retry-after'));
    throw new TransientError(`${target} answered ${res.status}`, {
      ...(retryAfter === undefined ? {} : { retryAfterSeconds: retryAfter }),
    });
  }
}
