// The key-id reporter as it runs on a node: its real main.ts as a child process, next to the
// sandbox's real KMS plugin, writing reports through a real kube-apiserver. It must follow a
// rotation, report the plugin going away, and stop cleanly on SIGTERM.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CoreV1Api } from '@kubernetes/client-node';
import { type KeyIdReport, readReports } from '../../shared/adapters/k8s/key-id-reports.ts';
import { coreApi } from '../support/kube.ts';
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
    assert.ok(lines.some((l) => l.includes('"keyId":"local-2"')));
  });
});
