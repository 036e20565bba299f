// The key-id reporter without a plugin or a cluster: a fake Status source, an in-memory write,
// a fixed clock. Asserts the reports as data, and that the loop survives what it must survive.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { reportOnce } from '../../../../functions/key-id-reporter/report-once.ts';
import { type ReporterLog, runReporter } from '../../../../functions/key-id-reporter/run-loop.ts';
import type { KeyIdReport } from '../../../../shared/adapters/k8s/key-id-reports.ts';
import {
  type KmsPluginStatus,
  KmsPluginUnavailableError,
} from '../../../../shared/adapters/kms-plugin/status-client.ts';

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
      keyIdFirstSeen: T0,
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

describe('reportOnce with ENCRYPTION_CONFIG_FILE', () => {
  const KEY = 'dGhpcyBpcyAzMiBieXRlcyBvZiBrZXkgbWF0ZXJpYWwh';
  const text = `apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources: [secrets, configmaps]
    providers:
      - kms: {apiVersion: v2, name: kms-a, endpoint: unix:///var/run/kmsplugin/socket.sock}
      - identity: {}
  - resources: ['*.apps']
    providers:
      - aescbc: {keys: [{name: k1, secret: ${KEY}}]}
      - kms: {apiVersion: v2, name: kms-b, endpoint: unix:///b.sock}
`;
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rekey-reporter-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reports the hash and the entries naming its provider, and no key material', async () => {
    const file = join(dir, 'enc.yaml');
    await writeFile(file, text);
    const m = memory();
    const r = await reportOnce({
      ...base,
      plugin: answering(healthy),
      write: m.write,
      encryptionConfigFile: file,
    });
    assert.equal(r.keyId, 'key-2');
    assert.match(r.encryptionConfig?.hash ?? '', /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(r.encryptionConfig, {
      hash: r.encryptionConfig?.hash,
      path: file,
      resources: [{ resources: ['secrets', 'configmaps'], write: true }],
      // every entry, provider types and names only: rekey applies the apiserver's precedence
      entries: [
        {
          resources: ['secrets', 'configmaps'],
          providers: [{ type: 'kms', name: 'kms-a', apiVersion: 'v2' }, { type: 'identity' }],
        },
        {
          resources: ['*.apps'],
          providers: [{ type: 'aescbc' }, { type: 'kms', name: 'kms-b', apiVersion: 'v2' }],
        },
      ],
    });
    assert.equal(r.encryptionConfigError, undefined);
    assert.ok(!JSON.stringify(m.written).includes(KEY), 'no key material in the report');

    const b = await reportOnce({
      ...base,
      provider: 'kms-b',
      plugin: answering(healthy),
      write: m.write,
      encryptionConfigFile: file,
    });
    assert.deepEqual(b.encryptionConfig?.resources, [{ resources: ['*.apps'], write: false }]);
  });

  it('re-reads the file on every tick', async () => {
    const file = join(dir, 'changing.yaml');
    await writeFile(file, text);
    const m = memory();
    const tick = () =>
      reportOnce({
        ...base,
        plugin: answering(healthy),
        write: m.write,
        encryptionConfigFile: file,
      });
    const first = await tick();
    await writeFile(file, text.replace('[secrets, configmaps]', '[secrets]'));
    const second = await tick();
    assert.notEqual(first.encryptionConfig?.hash, second.encryptionConfig?.hash);
    assert.deepEqual(second.encryptionConfig?.resources, [{ resources: ['secrets'], write: true }]);
  });

  it('still writes the report, with encryptionConfigError, when the file is missing', async () => {
    const m = memory();
    const r = await reportOnce({
      ...base,
      plugin: answering(healthy),
      write: m.write,
      encryptionConfigFile: join(dir, 'absent.yaml'),
    });
    assert.equal(r.keyId, 'key-2');
    assert.equal(r.error, undefined);
    assert.equal(r.encryptionConfig, undefined);
    assert.match(r.encryptionConfigError ?? '', /ENOENT/);
    assert.deepEqual(m.written, [r]);
  });

  it('reports a path that cannot be read as a file as encryptionConfigError', async () => {
    // a directory: unreadable even for root, unlike a file with mode 000
    const r = await reportOnce({
      ...base,
      plugin: answering(healthy),
      write: memory().write,
      encryptionConfigFile: dir,
    });
    assert.equal(r.keyId, 'key-2');
    assert.match(r.encryptionConfigError ?? '', /EISDIR/);
  });

  it('reports a file that is not an EncryptionConfiguration, without quoting it', async () => {
    const file = join(dir, 'broken.yaml');
    await writeFile(file, text.replace('kind: EncryptionConfiguration', 'kind: Secret'));
    const plugin = answering(new Error('plugin gone'));
    const r = await reportOnce({
      ...base,
      plugin,
      write: memory().write,
      encryptionConfigFile: file,
    });
    assert.match(r.error ?? '', /plugin gone/, 'both problems are reported');
    assert.match(r.encryptionConfigError ?? '', /^EncryptionConfigError: .*Secret/);
    assert.ok(!(r.encryptionConfigError ?? '').includes(KEY));
  });

  it('leaves both fields out without ENCRYPTION_CONFIG_FILE', async () => {
    const r = await reportOnce({ ...base, plugin: answering(healthy), write: memory().write });
    assert.equal('encryptionConfig' in r, false);
    assert.equal('encryptionConfigError' in r, false);
  });
});

describe('runReporter with ENCRYPTION_CONFIG_FILE', () => {
  it('logs a configuration once when read and again only when it changes or breaks', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rekey-reporter-loop-'));
    const file = join(dir, 'enc.yaml');
    const text = (resources: string) =>
      `apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n  - resources: [${resources}]\n    providers: [{kms: {apiVersion: v2, name: kms-a}}]\n`;
    await writeFile(file, text('secrets'));
    const controller = new AbortController();
    let ticks = 0;
    const write = async () => {
      ticks++;
      // change the file between ticks: same, changed, broken, broken again
      if (ticks === 2) await writeFile(file, text('secrets, configmaps'));
      if (ticks === 3) await writeFile(file, 'kind: Nope\n');
      if (ticks === 5) controller.abort();
    };
    const { lines, log } = recorder();
    try {
      await runReporter({
        ...base,
        plugin: answering(healthy),
        write,
        encryptionConfigFile: file,
        intervalMs: 1,
        signal: controller.signal,
        log,
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    assert.deepEqual(
      lines.filter((l) => l.msg.startsWith('encryption')).map((l) => `${l.level}:${l.msg}`),
      [
        'info:encryption configuration read',
        'info:encryption configuration read',
        'warn:encryption configuration unreadable',
      ],
    );
  });
});

describe('runReporter: when each key_id was first seen', () => {
  it('keeps the first sighting while the key_id is unchanged, error reports included, and starts over on a change', async () => {
    const controller = new AbortController();
    const written: KeyIdReport[] = [];
    let t = Date.parse(T0);
    const ticking = {
      now: () => {
        t += 15_000;
        return new Date(t);
      },
    };
    const write = async (r: KeyIdReport) => {
      written.push(r);
      if (written.length === 5) controller.abort();
    };
    const plugin = answering(
      healthy,
      healthy,
      new Error('plugin gone'),
      { ...healthy, keyId: 'key-3' },
      { ...healthy, keyId: 'key-3' },
    );
    await runReporter({
      ...base,
      clock: ticking,
      plugin,
      write,
      intervalMs: 1,
      signal: controller.signal,
      log: recorder().log,
    });
    const at = (i: number) => written[i]?.observedAt;
    assert.deepEqual(
      written.map((r) => [r.keyId, r.keyIdFirstSeen]),
      [
        ['key-2', at(0)],
        ['key-2', at(0)],
        ['key-2', at(0)],
        ['key-3', at(3)],
        ['key-3', at(3)],
      ],
    );
    assert.notEqual(at(0), at(1), 'the heartbeat moves on; the first sighting does not');
  });

  it('says nothing of a first sighting while no key_id was ever seen', async () => {
    const m = memory();
    const r = await reportOnce({ ...base, plugin: answering(new Error('down')), write: m.write });
    assert.equal(r.keyIdFirstSeen, undefined);
  });
});

describe('runReporter with a liveness Lease', () => {
  it('writes the report only when what it says changes, and renews the liveness on every tick', async () => {
    const controller = new AbortController();
    const written: KeyIdReport[] = [];
    const renewed: number[] = [];
    let t = Date.parse(T0);
    const ticking = {
      now: () => {
        t += 15_000;
        return new Date(t);
      },
    };
    const plugin = answering(
      healthy,
      healthy,
      healthy,
      { ...healthy, keyId: 'key-3' },
      { ...healthy, keyId: 'key-3' },
      new Error('plugin gone'),
      new Error('plugin gone'),
    );
    await runReporter({
      ...base,
      clock: ticking,
      plugin,
      write: async (r) => void written.push(r),
      liveness: {
        lease: 'key-id-report-cp-0-kms-a',
        renew: async (at) => {
          renewed.push(at);
          if (renewed.length === 7) controller.abort();
        },
      },
      intervalMs: 1,
      signal: controller.signal,
      log: recorder().log,
    });
    assert.deepEqual(
      written.map((r) => [r.keyId, Boolean(r.error), r.livenessLease]),
      [
        ['key-2', false, 'key-id-report-cp-0-kms-a'],
        ['key-3', false, 'key-id-report-cp-0-kms-a'],
        ['key-3', true, 'key-id-report-cp-0-kms-a'],
      ],
      'three changes, three writes; four unchanged ticks write nothing',
    );
    assert.equal(renewed.length, 7, 'liveness on every tick');
    assert.deepEqual(
      renewed.slice(0, 2).map((at) => new Date(at).toISOString()),
      [
        written[0]?.observedAt,
        new Date(Date.parse(written[0]?.observedAt ?? '') + 15_000).toISOString(),
      ],
      'renewed at the time of each reading',
    );
  });

  it('writes again after a failed write, and renews only once the stored report is current', async () => {
    const controller = new AbortController();
    let writes = 0;
    const renewed: number[] = [];
    await runReporter({
      ...base,
      plugin: answering(healthy),
      write: async () => {
        writes++;
        if (writes === 1) throw Object.assign(new Error('apiserver said 503'), { code: 503 });
      },
      liveness: {
        lease: 'l',
        renew: async (at) => {
          renewed.push(at);
          if (renewed.length === 2) controller.abort();
        },
      },
      intervalMs: 1,
      signal: controller.signal,
      log: recorder().log,
    });
    assert.equal(writes, 2, 'the failed write is repeated, the unchanged one after it is not');
    assert.equal(renewed.length, 2, 'no renewal on the tick whose write failed');
  });

  it('keeps the loop going when a renewal fails', async () => {
    const controller = new AbortController();
    let renewals = 0;
    const { lines, log } = recorder();
    await runReporter({
      ...base,
      plugin: answering(healthy),
      write: memory().write,
      liveness: {
        lease: 'l',
        renew: async () => {
          renewals++;
          if (renewals === 3) controller.abort();
          if (renewals < 3) throw new Error('leases is forbidden');
        },
      },
      intervalMs: 1,
      signal: controller.signal,
      log,
    });
    assert.equal(renewals, 3);
    assert.equal(lines.filter((l) => l.level === 'error').length, 2);
  });
});

describe('runReporter logs', () => {
  it('name a key_id by the short form of its hash, never the key_id itself', async () => {
    const secretish = 'arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
    const controller = new AbortController();
    let ticks = 0;
    const { lines, log } = recorder();
    await runReporter({
      ...base,
      plugin: answering(
        { ...healthy, keyId: secretish },
        { ...healthy, keyId: secretish },
        new Error('plugin gone'),
        { ...healthy, keyId: `${secretish}-2` },
      ),
      write: async () => {
        if (++ticks === 4) controller.abort();
      },
      intervalMs: 1,
      signal: controller.signal,
      log,
    });
    const text = JSON.stringify(lines);
    assert.ok(!text.includes(secretish), `a raw key_id in the logs: ${text}`);
    const reported = lines
      .filter((l) => l.msg === 'plugin key_id reported')
      .map((l) => l.obj as { keyIdHash?: string; previousKeyIdHash?: string });
    assert.equal(reported.length, 2);
    assert.match(String(reported[0]?.keyIdHash), /^sha256:[0-9a-f]{12}$/);
    assert.equal(reported[1]?.previousKeyIdHash, reported[0]?.keyIdHash);
  });
});
