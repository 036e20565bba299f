// Serves a hono app on Node and shuts it down without dropping work: on SIGTERM it stops taking
// requests (new ones get 503 + Retry-After so Knative retries them elsewhere; /healthz still
// answers), waits up to `drainMs` for the requests in flight, lets the handlers checkpoint in
// `onShutdown`, then exits 0 (1 if the checkpoint failed). A request in flight may be a whole
// reconcile step, so the wait is derived from the step's hard deadline (drainMsFor), never a
// fixed figure shorter than a step.

import type { AddressInfo } from 'node:net';
import { type Http2Bindings, type HttpBindings, type ServerType, serve } from '@hono/node-server';
import type { Logger } from '../observability/logger.ts';

/** What the app must offer: hono's `fetch`. */
export interface FetchApp {
  fetch(request: Request, env: HttpBindings | Http2Bindings): Response | Promise<Response>;
}

/** What `onShutdown` is told. */
export interface ShutdownInfo {
  /** True when every in-flight request finished within `drainMs`. */
  drained: boolean;
  /** Requests still running (0 when drained): their handlers should checkpoint now. */
  inFlight: number;
}

/** Options of {@link serveWithGracefulShutdown}. */
export interface GracefulOptions {
  port: number;
  /** Interface to listen on (default: all). */
  hostname?: string;
  /** Runs after draining, before exit: the handlers checkpoint here. */
  onShutdown?: (info: ShutdownInfo) => void | Promise<void>;
  /**
   * Longest wait for in-flight requests: at least the longest request, a reconcile step to its
   * hard deadline ({@link drainMsFor}). It must stay under the pod's termination grace period,
   * which Knative sets from the Service's `timeoutSeconds`.
   */
  drainMs: number;
  log: Logger;
  /** Signals that start a shutdown (default SIGTERM and SIGINT). */
  signals?: readonly NodeJS.Signals[];
  /** Ends the process (default `process.exit`); tests pass a recorder. */
  exit?: (code: number) => void;
}

/** A running server and its shutdown controls. */
export interface GracefulServer {
  server: ServerType;
  /** Resolves with the bound address once listening (port 0 picks a free one). */
  listening: Promise<AddressInfo>;
  /** Requests being handled now. */
  inFlight(): number;
  /** Starts (or joins) the shutdown; resolves after `exit` was called. */
  shutdown(reason?: string): Promise<void>;
}

const DRAINING_BODY = JSON.stringify({ error: 'unavailable', message: 'shutting down' });

/** Time for a step stopped at its deadline to write its checkpoint and its answer. */
export const DRAIN_ANSWER_MARGIN_MS = 5_000;

/**
 * How long to drain so that a request in flight outlives its longest possible handler: a step
 * stops where it stands at its hard deadline (shared/core/step-stop.ts), then answers.
 *
 * @example drainMsFor(90_000) // 95_000 for the default 60 s budget (deadline budget + 30 s)
 */
export function drainMsFor(stepDeadlineMs: number): number {
  return stepDeadlineMs + DRAIN_ANSWER_MARGIN_MS;
}

/**
 * Serves `app` with @hono/node-server and drains it on SIGTERM.
 *
 * @example
 * serveWithGracefulShutdown(app, { port: 8080, log, onShutdown: () => handler.checkpoint() });
 */
export function serveWithGracefulShutdown(
  app: FetchApp,
  {
    port,
    hostname,
    onShutdown,
    drainMs,
    log,
    signals = ['SIGTERM', 'SIGINT'],
    exit = (code) => process.exit(code),
  }: GracefulOptions,
): GracefulServer {
  let inFlight = 0;
  let draining = false;
  let idle: (() => void) | undefined;

  const fetch = (
    request: Request,
    env: HttpBindings | Http2Bindings,
  ): Response | Promise<Response> => {
    if (draining && new URL(request.url).pathname !== '/healthz') {
      return new Response(DRAINING_BODY, {
        status: 503,
        headers: { 'Content-Type': 'application/json', 'Retry-After': '1' },
      });
    }
    return app.fetch(request, env);
  };

  let onListening: (info: AddressInfo) => void = () => {};
  const listening = new Promise<AddressInfo>((resolve) => {
    onListening = resolve;
  });
  const server = serve({ fetch, port, ...(hostname ? { hostname } : {}) }, (info) => {
    log.info({ port: info.port, address: info.address }, 'listening');
    onListening(info);
  });
  // Counted at the socket level, so a request is in flight until its response is fully written
  // (hono's fetch resolves before the body is sent).
  server.on('request', (_req: unknown, res: NodeJS.EventEmitter) => {
    inFlight++;
    res.once('close', () => {
      inFlight--;
      if (inFlight === 0) idle?.();
    });
  });

  const waitForIdle = (): Promise<boolean> =>
    new Promise((resolve) => {
      if (inFlight === 0) return resolve(true);
      const timer = setTimeout(() => resolve(false), drainMs);
      idle = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });

  let shuttingDown: Promise<void> | undefined;
  const shutdown = (reason = 'shutdown requested'): Promise<void> => {
    shuttingDown ??= (async () => {
      draining = true;
      log.info({ reason, inFlight, drainMs }, 'shutting down: draining in-flight requests');
      server.close();
      const drained = await waitForIdle();
      let code = 0;
      try {
        await onShutdown?.({ drained, inFlight });
      } catch (err) {
        log.error({ err }, 'shutdown hook failed');
        code = 1;
      }
      if ('closeAllConnections' in server) server.closeAllConnections();
      for (const s of signals) process.off(s, onSignal);
      log.info({ drained, code }, 'shut down');
      exit(code);
    })();
    return shuttingDown;
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    void shutdown(signal);
  };
  for (const s of signals) process.on(s, onSignal);

  return { server, listening, inFlight: () => inFlight, shutdown };
}
