// Graceful shutdown on a real listening server: in-flight requests finish, new ones get 503 with
// Retry-After while /healthz still answers, onShutdown runs after draining, then exit(0).

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { createApp } from '../../../shared/http/app.ts';
import { serveWithGracefulShutdown } from '../../../shared/http/graceful.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

function setup(events: string[] = []) {
  const log = createLogger({ name: 'test', level: 'silent' });
  const app = createApp({
    name: 'reconcile',
    logger: log,
    metrics: createMetrics({ defaultMetrics: false }),
    readiness: async () => ({ ready: true, details: {} }),
  });
  let release: () => void = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started: () => void = () => {};
  const startedP = new Promise<void>((resolve) => {
    started = resolve;
  });
  app.post('/slow', async (c) => {
    started();
    await released;
    events.push('handler finished');
    return c.json({ done: true });
  });
  return { app, log, release, started: startedP };
}

describe('serveWithGracefulShutdown', () => {
  it('drains in-flight work, refuses new requests with 503, runs onShutdown, exits 0', async () => {
    const events: string[] = [];
    const { app, log, release, started } = setup(events);
    const exits: number[] = [];
    const srv = serveWithGracefulShutdown(app, {
      port: 0,
      hostname: '127.0.0.1',
      log,
      signals: [],
      drainMs: 5_000,
      exit: (code) => void exits.push(code),
      onShutdown: (info) => {
        events.push(`onShutdown drained=${info.drained} inFlight=${info.inFlight}`);
      },
    });
    const { port } = await srv.listening;
    const url = `http://127.0.0.1:${port}`;

    const inFlight = fetch(`${url}/slow`, { method: 'POST' }).then(async (r) => ({
      status: r.status,
      body: await r.json(),
    }));
    await started;
    assert.equal(srv.inFlight(), 1);

    const stopping = srv.shutdown('test');
    // A request on a new connection is refused (closed listener) or answered 503 while draining.
    const during = await fetch(`${url}/readyz`, { headers: { connection: 'close' } }).then(
      (r) => r.status,
      () => 'refused',
    );
    assert.ok(during === 503 || during === 'refused', String(during));
    assert.equal(events.length, 0, 'onShutdown waits for the in-flight request');

    release();
    assert.deepEqual(await inFlight, { status: 200, body: { done: true } });
    await stopping;
    assert.deepEqual(events, ['handler finished', 'onShutdown drained=true inFlight=0']);
    assert.deepEqual(exits, [0]);
    assert.equal(srv.server.listening, false);
    assert.strictEqual(srv.shutdown('again'), stopping, 'a second signal joins the same shutdown');
  });

  it('answers 503 with Retry-After to requests arriving while draining, but keeps /healthz', async () => {
    const { app, log, release, started } = setup();
    const srv = serveWithGracefulShutdown(app, {
      port: 0,
      hostname: '127.0.0.1',
      log,
      signals: [],
      drainMs: 5_000,
      exit: () => {},
    });
    const { port } = await srv.listening;
    // One raw keep-alive connection: the in-flight request keeps it open through the shutdown,
    // and later requests on it reach the server while it drains.
    const socket = connect(port, '127.0.0.1');
    let raw = '';
    socket.on('data', (d: Buffer) => {
      raw += d.toString('utf8');
    });
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.write('POST /slow HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n');
    await started;
    const stopping = srv.shutdown('test');
    socket.write('GET /readyz HTTP/1.1\r\nHost: t\r\n\r\nGET /healthz HTTP/1.1\r\nHost: t\r\n\r\n');
    await new Promise((resolve) => setTimeout(resolve, 50));
    release();
    await stopping;
    await closed;
    const statuses = [...raw.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);
    assert.deepEqual(statuses, ['200', '503', '200']);
    assert.match(raw, /Retry-After: 1/i);
    assert.match(raw, /"shutting down"/);
  });

  it('gives up waiting after drainMs, tells onShutdown, and exits 1 when it fails', async () => {
    const { app, log, release, started } = setup();
    const exits: number[] = [];
    let told: unknown;
    const srv = serveWithGracefulShutdown(app, {
      port: 0,
      hostname: '127.0.0.1',
      log,
      signals: [],
      drainMs: 50,
      exit: (code) => void exits.push(code),
      onShutdown: (info) => {
        told = info;
        throw new Error('checkpoint failed');
      },
    });
    const { port } = await srv.listening;
    const slow = fetch(`http://127.0.0.1:${port}/slow`, { method: 'POST' }).catch(() => 'cut');
    await started;
    await srv.shutdown('test');
    assert.deepEqual(told, { drained: false, inFlight: 1 });
    assert.deepEqual(exits, [1]);
    release();
    await slow;
  });

  it('starts the shutdown on SIGTERM', async () => {
    const { app, log } = setup();
    const exits: number[] = [];
    const srv = serveWithGracefulShutdown(app, {
      port: 0,
      hostname: '127.0.0.1',
      log,
      signals: ['SIGTERM'],
      drainMs: 5_000,
      exit: (code) => void exits.push(code),
    });
    await srv.listening;
    process.emit('SIGTERM', 'SIGTERM');
    await srv.shutdown();
    assert.deepEqual(exits, [0]);
    assert.equal(process.listenerCount('SIGTERM'), 0, 'the handler is removed afterwards');
  });
});
