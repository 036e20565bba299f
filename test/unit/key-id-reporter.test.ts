// The key-id reporter without a plugin or a cluster: a fake Status source, an in-memory write,
// a fixed clock. Asserts the reports as data, and that the loop survives what it must survive.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { reportOnce } from '../../functions/key-id-reporter/report-once.ts';
import { type ReporterLog, runReporter } from '../../functions/key-id-reporter/run-loop.ts';
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';
import {
  type KmsPluginStatus,
  KmsPluginUnavailableError,
} from '../../shared/adapters/kms-plugin/status-client.ts';

const T0 = '2030-01-02T03:04:05.000Z';
const clock = { now: () => new Date(T0) };
const healthy: KmsPluginStatus = { version: 'v2', healthz: 'ok', keyId: 'key-2' };

function memory() {
  const written: KeyIdReport[] = [];
  return { written, write: async (r: KeyIdReport) => void written.push(r) };
}

function answering(...answers: Array<KmsPluginStatus | Error>) {
  let i = 0;
  return {
    async status() {
      const a = answers[Math.min(i++, answers.length - 1)];
      if (!a || a instanceof Error) throw a ?? new Error('no answer');
      return a;
    },
  };
}

const base = { node: 'cp-0', provider: 'kms-a', clock };

describe('reportOnce', () => {
  it('writes what a healthy plugin said', async () => {
    const m = memory();
    const r = await reportOnce({ ...base, plugin: answering(healthy), write: m.write });
    assert.deepEqual(r, {
      node: 'cp-0',
      provider: 'kms-a',
      keyId: 'key-2',
      healthz: 'ok',
      version: 'v2',
      observedAt: T0,
    });
    assert.deepEqual(m.written, [r]);
  });

  it('writes an error report keeping the last key_id when the plugin cannot be reached', async () => {
    const m = memory();
    const down = new KmsPluginUnavailableError('KMS plugin at /s: UNAVAILABLE: no socket', {
      code: 'UNAVAILABLE',
    });
    const r = await reportOnce({
      ...base,
      plugin: answering(down),
      write: m.write,
      lastKeyId: 'key-1',
    });
    assert.equal(r.keyId, 'key-1');
    assert.equal(r.healthz, '');
    assert.match(r.error ?? '', /^KmsPluginUnavailableError: .*UNAVAILABLE/);
    assert.equal(r.observedAt, T0);
    assert.deepEqual(m.written, [r]);
  });

  it('reports an empty key_id when nothing healthy was ever seen, and keeps errors short', async () => {
    const m = memory();
    const r = await reportOnce({
      ...base,
      plugin: answering(new Error('x'.repeat(5000))),
      write: m.write,
    });
    assert.equal(r.keyId, '');
    assert.ok((r.error ?? '').length <= 300, 'error text is bounded');
  });

  const unhealthy: Array<[string, KmsPluginStatus, RegExp]> = [
    ['healthz not ok', { ...healthy, healthz: 'degraded' }, /healthz "degraded" is not ok/],
    ['a wrong version', { ...healthy, version: 'v1' }, /version "v1" is not v2/],
    ['an empty key_id', { ...healthy, keyId: '' }, /key_id is empty/],
  ];
  for (const [what, status, why] of unhealthy) {
    it(`writes an error report for a Status with ${what}`, async () => {
      const m = memory();
      const r = await reportOnce({
        ...base,
        plugin: answering(status),
        write: m.write,
        lastKeyId: 'key-1',
      });
      assert.match(r.error ?? '', why);
      // The apiserver would not adopt an unhealthy Status's key_id, so neither does the report.
      assert.equal(r.keyId, 'key-1');
      assert.equal(r.healthz, status.healthz);
      assert.equal(r.version, status.version);
      assert.deepEqual(m.written, [r]);
    });
  }

  it('lets a failed write reject', async () => {
    const write = async () => {
      throw new Error('apiserver said 503');
    };
    await assert.rejects(reportOnce({ ...base, plugin: answering(healthy), write }), /503/);
  });
});

function recorder() {
  const lines: Array<{ level: string; msg: string; obj: object }> = [];
  const at =
    (level: string) =>
    (obj: object, msg: string): void =>
      void lines.push({ level, msg, obj });
  const log: ReporterLog = {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
  return { lines, log };
}

describe('runReporter', () => {
  it('reports every tick, carries the last key_id into error reports, and stops on abort', async () => {
    const controller = new AbortController();
    const written: KeyIdReport[] = [];
    const write = async (r: KeyIdReport) => {
      written.push(r);
      if (written.length === 5) controller.abort();
    };
    const { lines, log } = recorder();
    const plugin = answering(healthy, new Error('plugin gone'), { ...healthy, keyId: 'key-3' });
    await runReporter({ ...base, plugin, write, intervalMs: 1, signal: controller.signal, log });

    assert.deepEqual(
      written.map((r) => [r.keyId, Boolean(r.error)]),
      [
        ['key-2', false],
        ['key-2', true],
        ['key-3', false],
        ['key-3', false],
        ['key-3', false],
      ],
    );
    assert.deepEqual(
      lines.filter((l) => l.level !== 'debug').map((l) => `${l.level}:${l.msg}`),
      ['info:plugin key_id reported', 'warn:plugin unhealthy', 'info:plugin key_id reported'],
      'transitions are logged once, steady state only at debug',
    );
  });

  it('keeps going after failed writes and retries on the next tick', async () => {
    const controller = new AbortController();
    let calls = 0;
    const stored: KeyIdReport[] = [];
    const write = async (r: KeyIdReport) => {
      calls++;
      if (calls <= 2) throw Object.assign(new Error('connection refused'), { code: 503 });
      stored.push(r);
      controller.abort();
    };
    const { lines, log } = recorder();
    await runReporter({
      ...base,
      plugin: answering(healthy),
      write,
      intervalMs: 1,
      signal: controller.signal,
      log,
    });
    assert.equal(calls, 3);
    assert.equal(stored[0]?.keyId, 'key-2');
    const errors = lines.filter((l) => l.level === 'error');
    assert.equal(errors.length, 2);
    assert.deepEqual(errors[0]?.obj, { err: 'connection refused', code: 503 });
  });

  it('returns promptly when aborted during the wait', async () => {
    const controller = new AbortController();
    const m = memory();
    const started = Date.now();
    const run = runReporter({
      ...base,
      plugin: answering(healthy),
      write: m.write,
      intervalMs: 60_000,
      signal: controller.signal,
      log: recorder().log,
    });
    setTimeout(() => controller.abort(), 20);
    await run;
    assert.ok(Date.now() - started < 5000, 'did not wait for the full interval');
    assert.equal(m.written.length, 1);
  });
});
