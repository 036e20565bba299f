// Reads a request body as text without ever holding more than `maxBytes` of it: a declared
// Content-Length over the limit is refused before reading, a chunked body is cut off as soon as it
// passes the limit (hono's bodyLimit does the counting). Over the limit => 413.

import type { Context } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { PayloadTooLargeError } from './errors.ts';

/** The default largest body any rekey endpoint accepts: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/**
 * The request body as UTF-8 text, or a {@link PayloadTooLargeError} (413) past `maxBytes`.
 *
 * @example const text = await readBodyText(c, { maxBytes: 64 * 1024 });
 */
export async function readBodyText(
  c: Context,
  { maxBytes = DEFAULT_MAX_BODY_BYTES }: { maxBytes?: number } = {},
): Promise<string> {
  const guard = bodyLimit({
    maxSize: maxBytes,
    onError: () => {
      throw new PayloadTooLargeError(maxBytes);
    },
  });
  // The guard buffers the (bounded) body back onto the request, so the text read below is safe.
  await guard(c, async () => {});
  return c.req.text();
}
