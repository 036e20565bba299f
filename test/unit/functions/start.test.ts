// The drain on SIGTERM (functions/start.ts) outlasts a reconcile step in flight: it is derived
// from REKEY_BUDGET_SECONDS (the step's hard deadline, budget + 30 s, plus time to answer), never
// a fixed figure shorter than a step (it was 25 s against a 60 s budget). The server's drain timer
// runs on a mocked clock; the request is a real one on a real socket.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it, mock } from 'node:test';
import { shutdownDrainMs } from '../../../functions/start.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { stepDeadlineMs } from '../../../shared/core/step-stop.ts';
import { createApp } from '../../../shared/http/app.ts';
import { type ShutdownInfo, serveWithGracefulShutdown } from '../../../shared/http/graceful.ts';
import { createLogger } from '../../../shared/observability/logger.ts';
import { createMetrics } from '../../../shared/observability/metrics.ts';

const settings = (budget?: string) =>
  loadConfig({ REKEY_PROVIDER: 'p', ...(budget ? { REKEY_BUDGET_SECONDS: budget } : {}) });

describe('shutdownDrainMs', () => {
  for (const budget of [undefined, '20', '120', '240']) {
    it(`outlasts a step's hard deadline (REKEY_BUDGET_SECONDS=${budget ?? 'default 60'})`, () => {
      const config = settings(budget);
      const deadline = stepDeadlineMs(config.REKEY_BUDGET_SECONDS * 1000);
      const drain = shutdownDrainMs(config);
      assert.ok(drain > deadline, `drain ${drain} ms, step deadline ${deadline} ms`);
      assert.ok(drain - deadline <= 10_000, 'and not much more: the pod must still go');
    });
  }
});

describe('a function process draining with the derived wait', () => {
  it('waits for a step in flight well past 25 s (default budget), then exits 0 drained', async () => {
    mock.timers.enable({ apis: ['setTimeout'] });
    try {
      const log = createLogger({ name: 'test', level: 'silent' });
      const app = createApp({
        name: 'reconcile',
        logger: log,
        metrics: createMetrics({ defaultMetrics: false }),
        readiness: async () => ({ ready: true, details: {} }),
      });
      let release: () => void = () => {};
      const released = new Promise<void>((r) => {
        release = r;
      });
      let started: () => void = () => {};
      const inStep = new Promise<void>((r) => {
        started = r;
      });
      app.post('/reconcile', async (c) => {
        started();
        await released;
        return c.json({ step: 'migrate' });
      });
      const exits: number[] = [];
      const told: ShutdownInfo[] = [];
      const srv = serveWithGracefulShutdown(app, {
        port: 0,
        hostname: '127.0.0.1',
        log,
        signals: [],
        drainMs: shutdownDrainMs(settings()),
        exit: (code) => void exits.push(code),
        onShutdown: (info) => void told.push(info),
      });
      const { port } = await srv.listening;
      const socket = connect(port, '127.0.0.1');
      let raw = '';
      socket.on('data', (d: Buffer) => {
        raw += d.toString();
      });
      const closed = new Promise((r) => socket.once('close', r));
      socket.write('POST /reconcile HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n');
      await inStep;
      const stopping = srv.shutdown('SIGTERM');
      // the step is still running 80 s into the drain (its deadline is 90 s): nobody gave up
      mock.timers.tick(80_000);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(exits, [], 'the process waits for the step');
      assert.deepEqual(told, []);
      release();
      await stopping;
      assert.deepEqual(told, [{ drained: true, inFlight: 0 }]);
      assert.deepEqual(exits, [0]);
      await closed;
      assert.match(raw, /HTTP\/1\.1 200/, 'the step answered before the connection closed');
    } finally {
      mock.timers.reset();
    }
  });
});
