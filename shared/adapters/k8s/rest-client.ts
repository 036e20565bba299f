// A thin REST client over a Connection for every call rekey makes (metadata-only lists, no-op
// patches, raw /metrics, its own Secrets and Leases): full control of Accept headers, status
// codes, Retry-After and the Date header, and a signal that cancels a call in flight (a step that
// lost its Lease or passed its deadline must not leave requests running).
import { Agent, request } from 'node:https';
import { StringDecoder } from 'node:string_decoder';
import type { Connection } from './connection.ts';

export interface RestResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  /** The answer's body; with `keepLines`, only the lines kept, each ending in a newline. */
  body: string;
  /** True when the body passed `maxBodyBytes`: reading stopped there, `body` is what came before. */
  truncated?: boolean;
}

export interface RestRequest {
  method?: 'GET' | 'PATCH' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  contentType?: string;
  accept?: string;
  timeoutMs?: number;
  /** Use this server instead of the kubeconfig's (one apiserver of several). */
  server?: string;
  /** Cancels the call: it then rejects with the signal's reason (see createRestClient). */
  signal?: AbortSignal;
  /**
   * Read the body line by line as it arrives and keep only the lines this accepts (a Prometheus
   * /metrics exposition: only the families rekey reads), so a large answer is never held whole.
   */
  keepLines?: (line: string) => boolean;
  /** Stop reading past this many body bytes (the answer is then `truncated`). */
  maxBodyBytes?: number;
}

/** A line longer than this cannot be one rekey keeps: it is skipped without being held. */
const MAX_KEPT_LINE_CHARS = 64 * 1024;

/** Collects a body: whole, or only the lines `keep` accepts, holding at most one line besides. */
function bodyCollector(keep: ((line: string) => boolean) | undefined) {
  if (!keep) {
    const chunks: Buffer[] = [];
    return {
      push: (c: Buffer) => void chunks.push(c),
      end: () => Buffer.concat(chunks).toString('utf8'),
    };
  }
  const decoder = new StringDecoder('utf8');
  const kept: string[] = [];
  let partial = '';
  let skipping = false; // inside a line too long to keep, until its newline
  const take = (text: string, final: boolean) => {
    const lines = (partial + text).split('\n');
    partial = final ? '' : (lines.pop() ?? '');
    for (const line of lines) {
      if (skipping) skipping = false;
      else if (line !== '' && keep(line)) kept.push(`${line}\n`);
    }
    if (partial.length > MAX_KEPT_LINE_CHARS) {
      partial = '';
      skipping = true;
    }
  };
  return {
    push: (c: Buffer) => take(decoder.write(c), false),
    end: () => {
      take(decoder.end(), true);
      return kept.join('');
    },
  };
}

export interface RestClient {
  request(req: RestRequest): Promise<RestResponse>;
  close(): void;
}

/**
 * The answer's Retry-After in seconds (APF sends one with its 429s), when it sent one. Callers put
 * it on the errors they raise (shared/ports/retryable.ts).
 */
export function retryAfterSecondsOf(res: Pick<RestResponse, 'headers'>): number | undefined {
  const h = res.headers['retry-after'];
  const v = Number(Array.isArray(h) ? h[0] : h);
  return h !== undefined && Number.isFinite(v) && v >= 0 ? v : undefined;
}

/**
 * The apiserver's time when it answered, from the response's Date header (whole seconds, rounded
 * down, so never later than the apiserver's clock was), when it sent a readable one.
 */
export function serverTimeOf(res: Pick<RestResponse, 'headers'>): number | undefined {
  const h = res.headers.date;
  const t = Date.parse(String(Array.isArray(h) ? h[0] : (h ?? '')));
  return Number.isNaN(t) ? undefined : t;
}

/**
 * Network-level failures surface as status 0 (NO_RESPONSE in shared/ports/retryable.ts), which
 * every caller retries like a 503. A call whose signal aborts rejects with the signal's reason
 * instead, before or after the request went out: it was cancelled on purpose, and a status 0
 * would have it retried. A 401 means the credentials went stale (a projected ServiceAccount token
 * rotates): when the connection can reload them, the call is sent once more with fresh ones, and
 * a 401 that remains is answered as it came (retryable, shared/domain/retryable-status.ts).
 * Credentials that cannot be had at all are answered like no answer (status 0).
 */
export function createRestClient(conn: Connection, { maxSockets = 32 } = {}): RestClient {
  const agent = new Agent({ keepAlive: true, maxSockets });
  return {
    async request(req) {
      const res = await send(req);
      if (res.status !== 401 || !conn.refresh) return res;
      conn.refresh();
      return send(req);
    },
    close() {
      agent.destroy();
    },
  };

  async function send({
    method = 'GET',
    path,
    query,
    body,
    contentType,
    accept = 'application/json',
    timeoutMs = 30_000,
    server,
    signal,
    keepLines,
    maxBodyBytes,
  }: RestRequest): Promise<RestResponse> {
    signal?.throwIfAborted();
    const url = new URL(path, server ?? conn.server);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const opts: import('node:https').RequestOptions = {
      method,
      headers: { accept },
      agent,
      timeout: timeoutMs,
      ...(signal ? { signal } : {}),
    };
    try {
      await conn.authorize(opts);
    } catch (err) {
      // the credentials could not be had (a token file mid-rotation, an exec plugin that could
      // not reach its cloud): the request never went out, so it is retried like no answer
      return { status: 0, headers: {}, body: `credentials: ${(err as Error).message}` };
    }
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    if (payload) {
      opts.headers = {
        ...opts.headers,
        'content-type': contentType ?? 'application/json',
        'content-length': payload.length,
      };
    }
    return new Promise<RestResponse>((resolve, reject) => {
      const failed = (err: Error) =>
        signal?.aborted
          ? reject(signal.reason)
          : resolve({ status: 0, headers: {}, body: err.message });
      const req = request(url, opts, (res) => {
        const body = bodyCollector(keepLines);
        let bytes = 0;
        let stopped = false;
        res.on('data', (c: Buffer) => {
          if (stopped) return;
          bytes += c.length;
          if (maxBodyBytes !== undefined && bytes > maxBodyBytes) {
            stopped = true;
            // enough: what came so far is answered, the rest is never read
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: body.end(),
              truncated: true,
            });
            res.destroy();
            return;
          }
          body.push(c);
        });
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: body.end() }),
        );
        res.on('error', failed);
        // an answer cut off mid-body may end without an error event: settle it all the same
        res.on('close', () => {
          if (!res.complete) failed(new Error(`${method} ${url.pathname}: answer cut off`));
        });
      });
      req.on('timeout', () =>
        req.destroy(new Error(`${method} ${url.pathname} timed out after ${timeoutMs} ms`)),
      );
      req.on('error', failed);
      if (payload) req.write(payload);
      req.end();
    });
  }
}
