// The key-id reporter as it runs on a node: its real main.ts as a child process, next to the
// sandbox's real KMS plugin, writing reports through a real kube-apiserver. It must follow a
// rotation, report the plugin going away, and stop cleanly on SIGTERM; write its report only when
// it changes while renewing its liveness Lease; and log key_ids by their hash only.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CoordinationV1Api, type CoreV1Api } from '@kubernetes/client-node';
import {
  type KeyIdReport,
  readReports,
  reportName,
} from '../../shared/adapters/k8s/key-id-reports.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { pluginStop, rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const MAIN = fileURLToPath(new URL('../../functions/key-id-reporter/main.ts', import.meta.url));
const NAMESPACE = 'rekey-system';
const NODE = 'sandbox-cp-0';

async function ensureNamespace(api: CoreV1Api, name: string): Promise<void> {
  try {
    await api.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    // The sandbox may already install rekey's namespace.
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

describe('key-id reporter on the sandbox', () => {
  let sb: TestSandbox;
  let reporter: ChildProcess | undefined;
  const output: string[] = [];

  before(async () => {
    sb = await startSandbox();
  });
  after(async () => {
    if (reporter && reporter.exitCode === null && reporter.signalCode === null) {
      reporter.kill('SIGKILL');
    }
    await sb?.stop();
  });

  it('follows a rotation, reports the plugin down, and exits 0 on SIGTERM', async (t) => {
    const { env } = sb;
    const api = coreApi(env);
    const provider = env.kms.providerName;
    const socket = env.apiservers[0]?.plugin.socket;
    assert.ok(socket, 'the sandbox has a plugin socket');
    await ensureNamespace(api, NAMESPACE);

    const child = spawn(process.execPath, [MAIN], {
      env: {
        ...process.env,
        KMS_PLUGIN_SOCKET: socket,
        REKEY_PROVIDER: provider,
        NODE_NAME: NODE,
        REKEY_NAMESPACE: NAMESPACE,
        REPORT_INTERVAL_SECONDS: '1',
        KUBECONFIG: env.kubeconfig,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    reporter = child;
    child.stdout.setEncoding('utf8').on('data', (s: string) => output.push(s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => output.push(s));
    const exited = once(child, 'exit');

    const report = (what: string, ok: (r: KeyIdReport) => boolean) =>
      waitFor(
        what,
        async () => {
          if (child.exitCode !== null) throw new Error(`reporter exited:\n${output.join('')}`);
          const reports = await readReports(api, NAMESPACE, provider);
          return reports.find((r) => r.node === NODE && ok(r));
        },
        { timeoutMs: 30_000, intervalMs: 300 },
      );

    const first = await report('a report of local-1', (r) => r.keyId === 'local-1' && !r.error);
    assert.equal(first.healthz, 'ok');
    assert.equal(first.version, 'v2');

    // unchanged, the report is not written again (each write is a reconcile step); the Lease is
    const leases = kubeConfig(env).makeApiClient(CoordinationV1Api);
    const name = reportName(NODE, provider);
    assert.equal(first.livenessLease, name);
    const version = async () =>
      (await api.readNamespacedConfigMap({ name, namespace: NAMESPACE })).metadata?.resourceVersion;
    const renewed = async () => {
      const l = await leases.readNamespacedLease({ name, namespace: NAMESPACE });
      return new Date(l.spec?.renewTime ?? 0).getTime();
    };
    const rv = await version();
    const since = await renewed();
    await waitFor(
      'the liveness Lease renewed on three more ticks',
      async () => ((await renewed()) >= since + 3000 ? true : undefined),
      { timeoutMs: 30_000, intervalMs: 300 },
    );
    assert.equal(await version(), rv, 'the unchanged report was not written again');

    const next = await rotate({ dir: sb.dir });
    assert.equal(next, 'local-2');
    await report('a report of local-2', (r) => r.keyId === 'local-2' && !r.error);

    await pluginStop({ dir: sb.dir });
    const down = await report('a report with an error', (r) => Boolean(r.error));
    t.diagnostic(`plugin down reported as: ${down.error}`);
    assert.equal(down.keyId, 'local-2', 'the last known key_id is kept');

    child.kill('SIGTERM');
    const [code, signal] = await exited;
    assert.equal(signal, null);
    assert.equal(code, 0, output.join(''));

    // JSON log lines only, as a log pipeline expects.
    const lines = output.join('').split('\n').filter(Boolean);
    for (const line of lines) assert.doesNotThrow(() => JSON.parse(line), line);
    const text = lines.join('\n');
    assert.ok(text.includes(`"keyIdHash":"${keyIdHash('local-2').slice(0, 19)}"`), text);
    assert.ok(!/"local-[12]"/.test(text), `a raw key_id in the reporter's log:\n${text}`);
  });

  it('renews a liveness Lease per node under its own least-privilege identity', async () => {
    // the sandbox's reporters run as the key-id reporter's identity, bound by infra/base RBAC
    const leases = kubeConfig(sb.env).makeApiClient(CoordinationV1Api);
    const nodes = sb.env.apiservers.map((a) => a.hostname).sort();
    const renewedBy = async () => {
      const list = await leases.listNamespacedLease({
        namespace: NAMESPACE,
        labelSelector: 'app.kubernetes.io/component=key-id-reporter',
      });
      return new Map(
        list.items.map((l) => [l.spec?.holderIdentity ?? '', new Date(l.spec?.renewTime ?? 0)]),
      );
    };
    const start = Date.now();
    await waitFor(
      "every sandbox reporter's Lease renewed after the check began",
      async () => {
        const by = await renewedBy();
        return nodes.every((n) => (by.get(n)?.getTime() ?? 0) > start) || undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });
});
