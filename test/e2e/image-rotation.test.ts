// End to end from the image (`npm run image`, built with podman on first use): the four functions
// each in a container of localhost/rekey:dev as its own ServiceAccount, on the host's network next
// to a sandbox, and a key-id reporter from the same image next to the sandbox's KMS plugin. Every
// function becomes ready; kms-event and cluster-event hand their steps to reconcile through a
// broker stand-in, and reconcile, driven by PingSource ticks and its own continuations, completes
// the rotation, proven from etcd. (The webhook's commands are not sent here: each takes a replay
// claim, a Lease its ServiceAccount must be allowed to create.) How long each container took to
// its first /readyz 200 is printed as a diagnostic (a measurement, never asserted).
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readReports } from '../../shared/adapters/k8s/key-id-reports.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { FUNCTIONS, serviceAccountKubeConfig } from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { eventFixture, triggermeshEvent } from '../support/event-fixtures.ts';
import { ensureImage } from '../support/image/build.ts';
import { type Container, runContainer } from '../support/image/container.ts';
import { type Broker, deliver, startBroker } from '../support/knative-broker.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { PING } from '../support/rekey-serve.ts';
import { freePort, waitFor } from '../support/sandbox/net.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { waitForObservation } from '../support/settle.ts';

type Name = (typeof FUNCTIONS)[number];
const WEBHOOK_SECRET = `whsec_${Buffer.from('rekey e2e image secret').toString('base64')}`;
const REPORTER_NODE = 'image-node';

describe('e2e: the image runs each function and the key-id reporter; a rotation completes', () => {
  let sb: TestSandbox;
  let image: string;
  let files: string;
  let broker: Broker;
  let rekey: RekeyUnderTest;
  let reporter: Container | undefined;
  const fn = {} as Record<Name, { base: string; container: Container; readyMs: number }>;

  before(async () => {
    image = ensureImage();
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'image' });
    rekey = rekeyFor(sb.env);
    // what the containers read: each function's ServiceAccount kubeconfig, readable by the
    // image's user 1000 (mounted read-only)
    files = mkdtempSync(join(tmpdir(), 'rekey-image-e2e-'));
    chmodSync(files, 0o755);
    const routes: Record<string, string> = {};
    broker = await startBroker(routes);
    for (const name of FUNCTIONS) {
      const kubeconfig = join(files, `kubeconfig-${name}`);
      const kc = await serviceAccountKubeConfig(sb.env, `rekey-${name}`);
      writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o644 });
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const started = Date.now();
      const container = runContainer(image, name, {
        args: [`functions/${name}/main.ts`],
        env: {
          ...rekeySettings(sb.env, { REKEY_BUDGET_SECONDS: '1', REKEY_PAGE_SIZE: '25' }),
          KUBECONFIG: kubeconfig,
          K_SINK: broker.url,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ...(name === 'reconcile' ? {} : { REKEY_STEP_MODE: 'delegate' }),
          ...(name === 'webhook' ? { REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET } : {}),
          // reachable from this machine only, and the test sends no Knative tokens
          ...(name === 'kms-event' ? { REKEY_KMS_EVENT_PRIVATE: 'true' } : {}),
        },
        mounts: [files],
      });
      fn[name] = { base, container, readyMs: 0 };
      await container.untilOk(`${base}/readyz`);
      fn[name].readyMs = Date.now() - started;
    }
    routes['dev.rekey.step.requested'] = `${fn.reconcile.base}/reconcile`;
    routes['dev.rekey.migration.slice'] = `${fn.reconcile.base}/reconcile`;
  });
  after(async () => {
    reporter?.stop();
    for (const f of Object.values(fn)) f.container.stop();
    await broker?.close();
    rekey?.close();
    await sb?.stop();
    if (files) rmSync(files, { recursive: true, force: true });
  });

  const outputs = () =>
    [
      ...Object.entries(fn).map(([n, f]) => `--- ${n}:\n${f.container.logs()}`),
      `--- reporter:\n${reporter?.logs() ?? ''}`,
    ].join('\n');
  const newest = async () =>
    (await rekey.deps.store.list(sb.env.kms.providerName))
      .map((s) => s.revision)
      .sort((a, b) => b.number - a.number)[0];

  async function tickUntil(done: () => Promise<boolean>, limitMs: number): Promise<void> {
    const deadline = Date.now() + limitMs;
    while (!(await done())) {
      assert.ok(Date.now() < deadline, `not done in ${limitMs / 1000} s\n${outputs()}`);
      const r = await deliver(`${fn.reconcile.base}/reconcile`, PING);
      assert.equal(r.status, 200, `tick: ${r.body}\n${outputs()}`);
      await new Promise((res) => setTimeout(res, 2000));
    }
  }

  const imageReport = (what: string, ok: (keyId: string) => boolean) =>
    waitFor(
      what,
      async () => {
        if (reporter && !reporter.running()) throw new Error(`reporter exited:\n${outputs()}`);
        const reports = await readReports(coreApi(sb.env), 'rekey-system', sb.env.kms.providerName);
        return reports.find((r) => r.node === REPORTER_NODE && !r.error && ok(r.keyId));
      },
      { timeoutMs: 60_000, intervalMs: 300 },
    );

  it('every function from the image is ready as its own identity', async (t) => {
    for (const name of FUNCTIONS) {
      const r = await fetch(`${fn[name].base}/readyz`);
      assert.equal(r.status, 200, `${name}: ${await r.text()}\n${fn[name].container.logs()}`);
      t.diagnostic(`${name}: podman run to first /readyz 200 in ${fn[name].readyMs} ms`);
    }
  });

  it('the key-id reporter from the image reports the plugin key', async () => {
    const a = sb.env.apiservers[0];
    assert.ok(a, 'the sandbox has an apiserver');
    const kubeconfig = join(sb.dir, `kubeconfig-reporter-${a.name}`);
    // as its DaemonSet runs it: root, next to the plugin's socket
    reporter = runContainer(image, 'key-id-reporter', {
      args: ['functions/key-id-reporter/main.ts'],
      user: '0',
      env: {
        KMS_PLUGIN_SOCKET: a.plugin.socket,
        REKEY_PROVIDER: sb.env.kms.providerName,
        NODE_NAME: REPORTER_NODE,
        KUBECONFIG: kubeconfig,
        REPORT_INTERVAL_SECONDS: '1',
        ENCRYPTION_CONFIG_FILE: a.encryptionConfig,
      },
      mounts: [...new Set([dirname(a.plugin.socket), kubeconfig, a.encryptionConfig])],
    });
    const first = await imageReport('a report from the image reporter', (k) => k.length > 0);
    assert.equal(first.healthz, 'ok');
  });

  it('kms-event and cluster-event hand their steps to reconcile, which completes the rotation', async () => {
    await tickUntil(async () => (await newest())?.phase === 'Completed', 120_000); // baseline K1
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2, 60_000);
    await imageReport(`the image reporter reports ${k2}`, (k) => k === k2);

    const kms = await deliver(`${fn['kms-event'].base}/kms-event`, triggermeshEvent());
    assert.equal(kms.status, 200, `${kms.body}\n${outputs()}`);
    assert.deepEqual(
      [JSON.parse(kms.body).outcome, JSON.parse(kms.body).step.kind],
      ['rotation', 'handed-off'],
    );
    const report = eventFixture('apiserversource-ref-update-revision.json');
    const cluster = await deliver(`${fn['cluster-event'].base}/cluster-event`, {
      type: String(report.type),
      source: String(report.source),
      data: {
        ...(report.data as object),
        kind: 'ConfigMap',
        name: `key-id-report-${REPORTER_NODE}`,
      },
    });
    assert.equal(cluster.status, 200, `${cluster.body}\n${outputs()}`);
    assert.equal(JSON.parse(cluster.body).step.kind, 'handed-off');

    await tickUntil(async () => {
      const r = await newest();
      return r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded');
    }, 300_000);
    const done = await newest();
    assert.equal(done?.phase, 'Completed', `${done?.lastError}\n${outputs()}`);
    assert.equal(done?.verification?.clean, true, 'verified from etcd');
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((r) => r.keyID),
      [k2],
    );
    const requests = broker.events.filter((e) => e.type === 'dev.rekey.step.requested');
    assert.deepEqual(
      [...new Set(requests.map((e) => (e.data as { requestedBy: string }).requestedBy))].sort(),
      ['cluster-event', 'kms-event'],
    );
    assert.ok(
      broker.events.some((e) => e.type === 'dev.rekey.migration.completed'),
      'reconcile in its container emitted migration.completed',
    );
    assert.doesNotMatch(outputs(), /forbidden/i, 'no function was refused a call');
  });
});
