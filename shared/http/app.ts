// The hono app every rekey function starts from: probes (`/healthz`, `/readyz`), Prometheus
// `/metrics`, a request log, a body-size guard, sender authentication when configured, and an
// error handler that answers with Knative-correct statuses (errors.ts). Composition roots mount
// their handlers on it: `app.post('/kms-event', handler)`.

import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from '../observability/logger.ts';
import type { Metrics } from '../observability/metrics.ts';
import type { RekeyEnv } from './env.ts';
import { PayloadTooLargeError, toHttpError } from './errors.ts';
import { DEFAULT_MAX_BODY_BYTES } from './read-body.ts';
import { requestLog } from './request-log.ts';
import type { Authenticator } from './sender-auth.ts';

/** What a function reports about its dependencies (kube API, etcd, KMS plugin, ...). */
export interface ReadinessReport {
  ready: boolean;
  details: Record<string, unknown>;
}

/** Options of {@link createApp}. */
export interface CreateAppOptions {
  /** The function name (`kms-event`, `webhook`, ...), for logs and metric labels. */
  name: string;
  logger: Logger;
  metrics: Metrics;
  /** Whether the function can do its work now; answers `/readyz`. */
  readiness: () => Promise<ReadinessReport>;
  /** Knative sender identity; when absent, sender authentication is off (and says so). */
  auth?: Authenticator;
  /** Paths sender authentication skips (default `/webhook`, which is signed instead). */
  unauthenticatedPaths?: readonly string[];
  /** Largest request body accepted on any route (default 1 MiB). */
  maxBodyBytes?: number;
  /** How long `/readyz` waits for `readiness` before answering 503 (default 5 s). */
  readinessTimeoutMs?: number;
  /**
   * Whether `/readyz` shows its details (default true). A function reachable from outside the
   * cluster answers `{ ready }` alone: its details (sender audience and allowed senders, the
   * apiservers' adoption) are for operators, not for whoever can reach the public address.
   */
  probeDetails?: boolean;
}

const PROBE_PATHS = new Set(['/healthz', '/readyz', '/metrics']);

function skipsAuth(path: string, method: string, exempt: readonly string[]): boolean {
  // The Azure Event Grid abuse-protection handshake is an OPTIONS request without a token.
  if (method === 'OPTIONS' || PROBE_PATHS.has(path)) return true;
  return exempt.some((p) => path === p || path.startsWith(`${p}/`));
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`readiness check took over ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Set by Knative's broker filter and channel dispatchers on every delivery they make. */
export const KNATIVE_DELIVERY_HEADER = 'kn-namespace';

/**
 * A hono app with rekey's probes, metrics, logging, limits, sender auth and error mapping.
 *
 * @example
 * const app = createApp({ name: 'kms-event', logger, metrics, readiness: async () => ({ ready: true, details: {} }) });
 * app.post('/kms-event', async (c) => { const event = await readCloudEvent(c); ...; return c.body(null, 202); });
 */
export function createApp({
  name,
  logger,
  metrics,
  readiness,
  auth,
  unauthenticatedPaths = ['/webhook'],
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
  readinessTimeoutMs = 5_000,
  probeDetails = true,
}: CreateAppOptions): Hono<RekeyEnv> {
  const app = new Hono<RekeyEnv>();
  const senderAuthentication = auth ? 'on' : 'off';
  if (!auth) {
    logger.warn(
      { senderAuthentication },
      'sender authentication is off: any client that reaches this function can send it CloudEvents',
    );
  }

  app.use('*', requestLog({ name, logger, metrics }));
  // Knative takes a subscriber's 2xx answer only with an empty body or a CloudEvent: its broker
  // filter turns any other body into a failed delivery (502: retried, then dead-lettered). A
  // request Knative delivered (its dispatchers set Kn-Namespace) gets the status alone; direct
  // callers keep the JSON outcome.
  app.use('*', async (c, next) => {
    await next();
    const status = c.res.status;
    if (c.req.header(KNATIVE_DELIVERY_HEADER) === undefined || status < 200 || status > 299) return;
    if (c.res.body === null) return;
    const headers = new Headers(c.res.headers);
    headers.delete('content-type');
    headers.delete('content-length');
    c.res = new Response(null, { status, headers });
  });
  app.use(
    '*',
    bodyLimit({
      maxSize: maxBodyBytes,
      onError: () => {
        throw new PayloadTooLargeError(maxBodyBytes);
      },
    }),
  );
  if (auth) {
    app.use('*', async (c, next) => {
      if (!skipsAuth(c.req.path, c.req.method, unauthenticatedPaths)) {
        c.set('sender', await auth.authenticate(c.req.header('authorization')));
      }
      await next();
    });
  }

  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    let report: ReadinessReport;
    try {
      report = await withTimeout(readiness(), readinessTimeoutMs);
    } catch (err) {
      logger.warn({ err }, 'readiness check failed');
      report = { ready: false, details: { error: 'readiness check failed' } };
    }
    const status = report.ready ? 200 : 503;
    if (!probeDetails) return c.json({ ready: report.ready }, status);
    const details: Record<string, unknown> = { ...report.details, senderAuthentication };
    if (auth) details.sender = auth.describe();
    return c.json({ ready: report.ready, details }, status);
  });
  app.get('/metrics', async (c) =>
    c.body(await metrics.render(), 200, { 'Content-Type': metrics.contentType }),
  );

  app.notFound((c) =>
    c.json({ error: 'not_found', message: `no route for ${c.req.method} ${c.req.path}` }, 404),
  );
  app.onError((err, c) => {
    const { status, body, headers } = toHttpError(err);
    if (status >= 500 && status !== 503) {
      logger.error(
        { err, ceId: c.get('ceId'), traceparent: c.get('traceparent') },
        'request failed',
      );
    } else if (status === 503) {
      logger.warn(
        { err: { name: err.name, message: err.message }, ceId: c.get('ceId') },
        'transient failure',
      );
    }
    for (const [k, v] of Object.entries(headers)) c.header(k, v);
    return c.json(body, status as ContentfulStatusCode);
  });
  return app;
}
