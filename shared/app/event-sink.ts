// Where rekey's events go, from the settings: K_SINK (with Knative's sender token, when one is
// mounted, sent to K_SINK's origin only) and signed outgoing webhooks. With neither configured,
// nothing is sent: events are logged instead (a key danger at error level, so it cannot pass
// unnoticed) and continuations wait for the next PingSource tick. Outgoing webhooks carry the
// public types only and are best effort: a failed delivery is logged and counted in
// `rekey_outgoing_webhooks_total{outcome="failed"}`, never an error of the emit.
import { existsSync, readFileSync } from 'node:fs';
import { Counter } from 'prom-client';
import { CloudEventSink } from '../adapters/events/cloudevent-sink.ts';
import type { RekeyConfig } from '../config/config.ts';
import type { Logger } from '../observability/logger.ts';
import type { MetricsWithRegistry } from '../observability/metrics.ts';
import type { EventSink } from '../ports/event-sink.ts';

/** Counts outgoing webhook deliveries on `metrics`' registry, by event type and outcome. */
function webhookCounter(metrics: MetricsWithRegistry | undefined) {
  if (!metrics) return undefined;
  const name = 'rekey_outgoing_webhooks_total';
  return (
    (metrics.registry.getSingleMetric(name) as Counter<'type' | 'outcome'> | undefined) ??
    new Counter({
      name,
      help: 'Outgoing webhook deliveries (public event types only), by event type and outcome.',
      labelNames: ['type', 'outcome'] as const,
      registers: [metrics.registry],
    })
  );
}

export function eventSinkFor(
  config: RekeyConfig,
  functionName: string,
  logger: Logger,
  metrics?: MetricsWithRegistry,
): EventSink {
  const webhooks =
    config.REKEY_OUTGOING_WEBHOOK_URLS && config.REKEY_OUTGOING_WEBHOOK_SECRETS
      ? { urls: config.REKEY_OUTGOING_WEBHOOK_URLS, secrets: config.REKEY_OUTGOING_WEBHOOK_SECRETS }
      : undefined;
  if (!config.K_SINK) {
    logger.warn(
      webhooks
        ? 'K_SINK is not set: only outgoing webhooks get events, and migrations continue on PingSource ticks only'
        : 'K_SINK is not set: rekey emits no events, and migrations continue on PingSource ticks only',
    );
  }
  if (!config.K_SINK && !webhooks) {
    return {
      async emit(type, data) {
        const fields: Record<string, unknown> = { type, ...data };
        if (type === 'key.danger') logger.error(fields, 'event not sent: no K_SINK');
        else logger.debug({ type }, 'event not sent: no K_SINK');
      },
    };
  }
  const sinkOrigin = config.K_SINK ? new URL(config.K_SINK).origin : undefined;
  const tokenFile = config.REKEY_SINK_TOKEN_FILE;
  const withSinkToken: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.origin !== sinkOrigin || !existsSync(tokenFile)) return fetch(input, init);
    const headers = new Headers(init?.headers);
    headers.set('authorization', `Bearer ${readFileSync(tokenFile, 'utf8').trim()}`);
    return fetch(input, { ...init, headers });
  };
  const deliveries = webhookCounter(metrics);
  return new CloudEventSink({
    functionName,
    fetch: withSinkToken,
    ...(config.K_SINK ? { sink: config.K_SINK } : {}),
    ...(webhooks ? { webhooks } : {}),
    onWebhookDelivery: ({ type, id, target, error }) => {
      deliveries?.inc({ type, outcome: error === undefined ? 'delivered' : 'failed' });
      if (error !== undefined) {
        logger.warn(
          { type, eventId: id, target, err: { message: (error as Error).message } },
          'outgoing webhook not delivered (best effort: the event is not retried)',
        );
      }
    },
  });
}
