// Prometheus metrics for one rekey function: a prom-client Registry with the Node.js default
// metrics and rekey's own series, behind a small `Metrics` interface so handlers and adapters
// never import prom-client. Label values come from rekey's own vocabulary (function, event type,
// provider, revision, phase), never from secret values.

import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { PHASES, type Phase } from '../domain/phase.ts';

/** How an event's handling ended: 2xx handled (or a duplicate), 4xx rejected, 429/503 retry, 500 failed. */
export type EventOutcome = 'handled' | 'duplicate' | 'rejected' | 'retry' | 'failed';

/** What handlers and the HTTP layer record. */
export interface Metrics {
  /** One CloudEvent or webhook received by `function`, with how it ended. */
  eventReceived(labels: { function: string; type: string; outcome: EventOutcome }): void;
  /** `count` objects of `provider` rewritten with `outcome` (e.g. `rewritten`, `unchanged`, `failed`). */
  objectsRewritten(labels: { provider: string; outcome: string }, count?: number): void;
  /** One reconcile step (observe, converge, migrate, verify, prune, ...) done for `provider`. */
  stepDone(labels: { provider: string; step: string }): void;
  /** The revision is now in `phase`: its gauge is 1 for that phase and 0 for every other one. */
  revisionPhase(labels: { provider: string; revision: string; phase: Phase }): void;
  /** Drops a pruned revision's series, so the gauge does not grow without bound. */
  forgetRevision(labels: { provider: string; revision: string }): void;
  /** One HTTP request served (recorded by the app, not by handlers). */
  httpRequest(
    labels: { function: string; method: string; route: string; status: number },
    seconds: number,
  ): void;
  /** The Prometheus text exposition of every series. */
  render(): Promise<string>;
  /** The Content-Type of {@link render}'s output. */
  readonly contentType: string;
}

/** Options of {@link createMetrics}. */
export interface MetricsOptions {
  /** Collect process and Node.js runtime metrics too (default true). */
  defaultMetrics?: boolean;
  /** Labels added to every series (e.g. `{ function: 'kms-event' }`). */
  defaultLabels?: Record<string, string>;
  /**
   * Distinct event `type` label values kept (default 100); later ones count as `other`, because
   * a sender chooses the type and must not be able to grow the registry without bound.
   */
  maxEventTypes?: number;
}

/** The registry behind a {@link Metrics}, for callers that must reach prom-client directly. */
export interface MetricsWithRegistry extends Metrics {
  readonly registry: Registry;
}

/**
 * A fresh registry (never prom-client's global one, so tests and several apps in one process do
 * not collide) and the rekey series on it.
 *
 * @example const metrics = createMetrics(); metrics.stepDone({ provider: 'aws', step: 'migrate' });
 */
export function createMetrics({
  defaultMetrics = true,
  defaultLabels,
  maxEventTypes = 100,
}: MetricsOptions = {}): MetricsWithRegistry {
  const registry = new Registry();
  if (defaultLabels) registry.setDefaultLabels(defaultLabels);
  if (defaultMetrics) collectDefaultMetrics({ register: registry });

  const events = new Counter({
    name: 'rekey_events_received_total',
    help: 'CloudEvents and webhooks received, by function, event type and outcome.',
    labelNames: ['function', 'type', 'outcome'] as const,
    registers: [registry],
  });
  const rewritten = new Counter({
    name: 'rekey_objects_rewritten_total',
    help: 'Objects given a no-op rewrite, by KMS provider and outcome.',
    labelNames: ['provider', 'outcome'] as const,
    registers: [registry],
  });
  const steps = new Counter({
    name: 'rekey_reconcile_steps_total',
    help: 'Reconcile steps done, by KMS provider and step.',
    labelNames: ['provider', 'step'] as const,
    registers: [registry],
  });
  const phase = new Gauge({
    name: 'rekey_revision_phase',
    help: '1 for the phase each encryption-key revision is in, 0 for the others.',
    labelNames: ['provider', 'revision', 'phase'] as const,
    registers: [registry],
  });
  const http = new Histogram({
    name: 'rekey_http_request_duration_seconds',
    help: 'HTTP requests served, by function, method, route and status.',
    labelNames: ['function', 'method', 'route', 'status'] as const,
    buckets: [0.005, 0.025, 0.1, 0.25, 1, 2.5, 10, 30, 60, 120, 300],
    registers: [registry],
  });

  const eventTypes = new Set<string>();

  return {
    registry,
    contentType: registry.contentType,
    eventReceived: ({ function: fn, type, outcome }) => {
      if (!eventTypes.has(type) && eventTypes.size < maxEventTypes) eventTypes.add(type);
      events.inc({ function: fn, type: eventTypes.has(type) ? type : 'other', outcome });
    },
    objectsRewritten: (labels, count = 1) => {
      if (count > 0) rewritten.inc(labels, count);
    },
    stepDone: (labels) => steps.inc(labels),
    revisionPhase: ({ provider, revision, phase: current }) => {
      for (const p of PHASES) phase.set({ provider, revision, phase: p }, p === current ? 1 : 0);
    },
    forgetRevision: ({ provider, revision }) => {
      for (const p of PHASES) phase.remove({ provider, revision, phase: p });
    },
    httpRequest: ({ status, ...rest }, seconds) =>
      http.observe({ ...rest, status: String(status) }, seconds),
    render: () => registry.metrics(),
  };
}
