// One JSON log line and one latency sample per request: method, path, status, duration and the
// correlation ids (CloudEvent id and type, traceparent, webhook-id, sender). Never bodies or
// headers. Also counts `rekey_events_received_total` for every request that carried an event, so
// handlers do not have to.

import type { MiddlewareHandler } from 'hono';
import { matchedRoutes } from 'hono/route';
import { boundedLabel } from '../observability/bounded-label.ts';
import type { Logger } from '../observability/logger.ts';
import type { EventOutcome, Metrics } from '../observability/metrics.ts';
import type { RekeyEnv } from './env.ts';

/** Options of {@link requestLog}. */
export interface RequestLogOptions {
  /** The function name, for the metric labels. */
  name: string;
  logger: Logger;
  metrics: Metrics;
  /** Paths logged at debug level only (default the probes and the scrape). */
  quietPaths?: readonly string[];
}

function outcomeFor(status: number): EventOutcome {
  if (status >= 200 && status < 300) return 'handled';
  if (status === 429 || status === 503) return 'retry';
  return status >= 500 ? 'failed' : 'rejected';
}

/** The route pattern that handled the request (bounded label values), or `unmatched`. */
function routeOf(c: Parameters<MiddlewareHandler<RekeyEnv>>[0]): string {
  const handlers = matchedRoutes(c).filter((r) => r.method !== 'ALL');
  return handlers.at(-1)?.path ?? 'unmatched';
}

/**
 * Middleware that logs and measures every request; install it first so it sees the final status.
 *
 * @example app.use('*', requestLog({ name: 'kms-event', logger, metrics }));
 */
export function requestLog({
  name,
  logger,
  metrics,
  quietPaths = ['/healthz', '/readyz', '/metrics'],
}: RequestLogOptions): MiddlewareHandler<RekeyEnv> {
  const quiet = new Set(quietPaths);
  const typeLabel = boundedLabel();
  return async (c, next) => {
    const started = performance.now();
    const headerTrace = c.req.header('traceparent');
    if (headerTrace) c.set('traceparent', headerTrace);
    await next();
    const seconds = (performance.now() - started) / 1000;
    const status = c.res.status;
    const path = c.req.path;

    metrics.httpRequest(
      { function: name, method: c.req.method, route: routeOf(c), status },
      seconds,
    );
    const ceType = c.get('ceType');
    const webhookId = c.get('webhookId');
    if (ceType !== undefined || webhookId !== undefined) {
      metrics.eventReceived({
        function: name,
        // the type is the sender's choice: a bounded label, not one series per made-up type
        type: ceType === undefined ? 'webhook' : typeLabel(ceType),
        outcome: c.get('eventOutcome') ?? outcomeFor(status),
      });
    }

    const line: Record<string, unknown> = {
      method: c.req.method,
      path,
      status,
      durationMs: Math.round(seconds * 1e4) / 10,
    };
    const fields = {
      ceId: c.get('ceId'),
      ceType,
      traceparent: c.get('traceparent'),
      webhookId,
      sender: c.get('sender')?.username,
      outcome: c.get('eventOutcome'),
    };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    // The client-facing reason of a 4xx helps whoever debugs a sender; 5xx are logged in full
    // by the error handler.
    if (c.error && status < 500) line.reason = c.error.message;

    if (quiet.has(path) && status < 500) logger.debug(line, 'request');
    else if (status >= 500) logger.error(line, 'request');
    else if (status >= 400) logger.warn(line, 'request');
    else logger.info(line, 'request');
  };
}
