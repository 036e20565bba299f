// End to end from the image (`npm run image`, built with podman on first use), on the real Knative
// tier: the four functions each in a container of localhost/rekey:dev as its own ServiceAccount,
// with `--network=host` inside the test's private network namespace, each container's address
// being its Knative Service's address (upKnative's serviceUrls), and a key-id reporter from the
// same image next to the sandbox's KMS plugin. Every function becomes ready; an AWS rotation event
// posted to the Broker reaches kms-event (the AWS overlay's Trigger), the image reporter's change
// reaches cluster-event (the ApiServerSource), both hand their steps to reconcile through the
// Broker, and reconcile, driven by the PingSource and its own continuations, completes the
// rotation, proven from etcd. (The webhook's commands are not sent here: each takes a replay
// claim, a Lease its ServiceAccount must be allowed to create.) How long each container took to
// its first /readyz 200 is printed as a diagnostic (a measurement, never asserted).
import '../support/image/built-first.ts';
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readReports } from '../../shared/adapters/k8s/key-id-reports.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import {
  FUNCTIONS,
  overlayTriggers,
  serviceAccountKubeConfig,
} from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { triggermeshEvent } from '../support/event-fixtures.ts';
import { IMAGE } from '../support/image/build.ts';
import { type Container, runContainer } from '../support/image/container.ts';
import { applyTriggers, observeBroker, tickEvery } from '../support/knative/observer.ts';
import { publish } from '../support/knative/publish.ts';
import type { Recorder } from '../support/knative/recorder.ts';
import { upKnative } from '../support/knative/up.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import type { KnativeEnv } from '../support/sandbox/env-file.ts';
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
  let knative: KnativeEnv;
  let observer: Recorder;
  let rekey: RekeyUnderTest;
  let reporter: Container | undefined;
  const fn = {} as Record<Name, { base: string; container: Container; readyMs: number }>;

  before(async () => {
    // built (or found cached) before the test entered its private network: built-first.ts
    image = IMAGE;
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'image' });
    rekey = rekeyFor(sb.env);
    // what the containers read: each function's ServiceAccount kubeconfig, readable by the
    // image's user 1000 (mounted read-only)
    files = mkdtempSync(join(tmpdir(), 'rekey-image-e2e-'));
    chmodSync(files, 0o755);
    // each container's address is its Knative Service's: the tier routes to them
    const ports = {} as Record<Name, number>;
    for (const name of FUNCTIONS) ports[name] = await freePort();
    knative = await upKnative(sb.env, {
      serviceUrls: Object.fromEntries(
        FUNCTIONS.map((name) => [`rekey-${name}`, `http://127.0.0.1:${ports[name]}`]),
      ),
    });
    observer = await observeBroker(sb.env, knative);
    applyTriggers(sb.env, knative, [overlayTriggers('aws')]);
    // the real PingSource every 5 s instead of every minute, so waits between steps are short
    tickEvery(sb.env, knative, 5);
    for (const name of FUNCTIONS) {
      const kubeconfig = join(files, `kubeconfig-${name}`);
      const kc = await serviceAccountKubeConfig(sb.env, `rekey-${name}`);
      writeFileSync(kubeconfig, kc.exportConfig(), { mode: 0o644 });
      const port = ports[name];
      const base = `http://127.0.0.1:${port}`;
      const started = Date.now();
      const container = runContainer(image, name, {
        args: [`functions/${name}/main.ts`],
        env: {
          ...rekeySettings(sb.env, { REKEY_BUDGET_SECONDS: '1', REKEY_PAGE_SIZE: '25' }),
          KUBECONFIG: kubeconfig,
          K_SINK: knative.brokerUrl,
          PORT: String(port),
          LOG_LEVEL: 'warn',
          ...(name === 'reconcile' ? {} : { REKEY_STEP_MODE: 'delegate' }),
          ...(name === 'webhook' ? { REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET } : {}),
          // cluster-local, as infra/ deploys it
          ...(name === 'kms-event' ? { REKEY_KMS_EVENT_PRIVATE: 'true' } : {}),
        },
        mounts: [files],
      });
      fn[name] = { base, container, readyMs: 0 };
      await container.untilOk(`${base}/readyz`);
      fn[name].readyMs = Date.now() - started;
    }
  });
  after(async () => {
    reporter?.stop();
    for (const f of Object.values(fn)) f.container.stop();
    await observer?.close();
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

  const until = (what: string, done: () => Promise<boolean>, limitMs: number) =>
    waitFor(what, async () => ((await done()) ? true : undefined), {
      timeoutMs: limitMs,
      intervalMs: 1000,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${outputs()}`);
    });
  const requestedBy = (since: number) =>
    observer.deliveries
      .filter((d) => d.attributes.type === 'dev.rekey.step.requested' && d.at >= since)
      .map((d) => (d.data as { requestedBy?: string } | undefined)?.requestedBy ?? '');

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
    await until(
      'the baseline revision to complete',
      async () => (await newest())?.phase === 'Completed',
      300_000,
    );
    const rotatedAt = Date.now();
    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2, 60_000);
    // the image reporter's ConfigMap changes: the ApiServerSource carries that to cluster-event
    await imageReport(`the image reporter reports ${k2}`, (k) => k === k2);

    // the rotation event as TriggerMesh's EventBridge source sends it, to the Broker
    const kms = await publish(knative.brokerUrl, triggermeshEvent());
    assert.ok(kms >= 200 && kms < 300, `the Broker took the event: ${kms}\n${outputs()}`);

    await until(
      'a revision for the new key, Completed or Degraded',
      async () => {
        const r = await newest();
        return (
          r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded')
        );
      },
      600_000,
    );
    const done = await newest();
    assert.equal(done?.phase, 'Completed', `${done?.lastError}\n${outputs()}`);
    assert.equal(done?.verification?.clean, true, 'verified from etcd');
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((r) => r.keyID),
      [k2],
    );
    await until(
      'step requests from cluster-event and kms-event on the Broker',
      async () =>
        ['cluster-event', 'kms-event'].every((who) => requestedBy(rotatedAt).includes(who)),
      60_000,
    );
    assert.deepEqual([...new Set(requestedBy(rotatedAt))].sort(), ['cluster-event', 'kms-event']);
    assert.ok(
      observer.deliveries.some(
        (d) => d.attributes.type === 'dev.rekey.migration.completed' && d.at >= rotatedAt,
      ),
      'reconcile in its container emitted migration.completed',
    );
    assert.doesNotMatch(outputs(), /forbidden/i, 'no function was refused a call');
  });
});
