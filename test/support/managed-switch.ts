// The set-up the `rekey encryption switch` sandbox tests share: a managed-encryption sandbox, a node
// agent in write mode on each node (the key-id reporter with REKEY_CONFIG_WRITE=true, next to the
// second plugin, with every plugin endpoint of its node, as the reporter's ServiceAccount with
// infra/components/config-write's grant: ./config-write-agents.ts), rekey's CLI as the `rekey`
// identity, and a reader of what each apiserver applied. Everything each agent and each CLI run printed is kept,
// so a test can check that no secret value or local key ever appeared in it.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CoreV1Api } from '@kubernetes/client-node';
import {
  type ConfigHashReader,
  createConfigHashReader,
} from '../../shared/adapters/apiserver-metrics/config-hash-reader.ts';
import { createConfigRevisionStore } from '../../shared/adapters/k8s/config-revision-store.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import type { ConfigRevisionStore } from '../../shared/ports/config-revisions.ts';
import { agentKubeconfigs, installConfigWriteGrant } from './config-write-agents.ts';
import { connection, coreApi, kubeConfig } from './kube.ts';
import { rekeySettings, STATE_NAMESPACE } from './rekey-fixture.ts';
import type { ManagedInitial } from './sandbox/managed-encryption.ts';
import { waitFor } from './sandbox/net.ts';
import { PROVIDER_NAME } from './sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from './sandbox-fixture.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const AGENT = fileURLToPath(new URL('../../functions/key-id-reporter/main.ts', import.meta.url));
export const SECOND = 'sandbox-kms-b';

export interface CliRun {
  code: number;
  out: string;
}

export interface ManagedSwitch {
  sb: TestSandbox;
  /** One client per apiserver, as the sandbox's admin. */
  apis: CoreV1Api[];
  /** rekey's settings for the CLI (the `rekey` identity, etcd, the state namespace). */
  cliEnv: Record<string, string>;
  /** What each live apiserver applied (its own /metrics). */
  reader: ConfigHashReader;
  /** The configuration revisions rekey stores. */
  revisions: ConfigRevisionStore;
  /** Runs `rekey <args>` with cliEnv (plus `env`); its output is also kept in {@link printed}. */
  run(args: string[], env?: Record<string, string>): Promise<CliRun>;
  startAgent(i: number, overrides?: Record<string, string>): void;
  stopAgent(i: number): Promise<void>;
  /** Everything every CLI run and every node agent printed so far. */
  printed(): string;
  stop(): Promise<void>;
}

export async function startManagedSwitch({
  apiservers = 2,
  initial,
}: {
  apiservers?: number;
  initial: ManagedInitial;
}): Promise<ManagedSwitch> {
  const sb = await startSandbox({ apiservers, managedEncryption: { initial } });
  const { env, dir } = sb;
  const apis = env.apiservers.map((_, i) => coreApi(env, { apiserver: i }));
  const kubeconfig = join(dir, 'kubeconfig-rekey');
  writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig());
  const cliEnv = { ...rekeySettings(env), KUBECONFIG: kubeconfig };
  const conn = connection(env, { user: 'rekey' });
  const rest = createRestClient(conn);
  const reader = createConfigHashReader({
    rest,
    coordination: typedApi(rest).coordination,
    apiserverUrls: env.apiservers.map((a) => a.url),
    fallbackServer: conn.server,
    clock: systemClock,
  });
  const revisions = createConfigRevisionStore(typedApi(rest).core, { namespace: STATE_NAMESPACE });
  // the agents run as an install runs them: the reporter's ServiceAccount, with the grant of
  // infra/components/config-write, each on its own node's apiserver
  await installConfigWriteGrant(env);
  const agentConfigs = await agentKubeconfigs(env, dir);
  const agents: (ChildProcess | undefined)[] = [];
  const agentText: string[] = [];
  const cliText: string[] = [];

  function startAgent(i: number, overrides: Record<string, string> = {}): void {
    const a = env.apiservers[i];
    const second = env.managedEncryption?.secondSockets[i];
    assert.ok(a && second);
    const agentKubeconfig = agentConfigs[i];
    assert.ok(agentKubeconfig);
    const log = join(dir, `agent-${i}.log`);
    const child = spawn(process.execPath, [AGENT], {
      env: {
        ...process.env,
        KMS_PLUGIN_SOCKET: second,
        REKEY_PROVIDER: SECOND,
        NODE_NAME: a.hostname,
        KUBECONFIG: agentKubeconfig,
        REPORT_INTERVAL_SECONDS: '2',
        ENCRYPTION_CONFIG_FILE: a.encryptionConfig,
        REKEY_CONFIG_WRITE: 'true',
        // where rekey keeps its records, configuration revisions included (as rekey's own settings)
        REKEY_STATE_NAMESPACE: STATE_NAMESPACE,
        REKEY_KMS_ENDPOINTS: `${PROVIDER_NAME}=unix://${a.plugin.socket},${SECOND}=unix://${second}`,
        ...overrides,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const n = agentText.push('') - 1;
    const keep = (d: Buffer) => {
      agentText[n] += String(d);
      writeFileSync(log, agentText[n] ?? '');
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    agents[i] = child;
  }

  async function stopAgent(i: number): Promise<void> {
    const child = agents[i];
    if (!child || child.exitCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await closed;
  }

  function run(args: string[], extra: Record<string, string> = {}): Promise<CliRun> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...process.env, ...cliEnv, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.stderr.on('data', (d) => {
        out += d;
      });
      child.on('close', (code) => {
        cliText.push(out);
        resolve({ code: code ?? -1, out });
      });
    });
  }

  for (const i of env.apiservers.keys()) startAgent(i);
  // the agents record the file as found as revision 1, then run it
  await waitFor(
    'revision 1 recorded by a node agent',
    async () => ((await revisions.list()).length > 0 ? true : undefined),
    { timeoutMs: 120_000, intervalMs: 1000 },
  );

  return {
    sb,
    apis,
    cliEnv,
    reader,
    revisions,
    run,
    startAgent,
    stopAgent,
    printed: () => [...cliText, ...agentText].join('\n'),
    async stop() {
      await Promise.all(agents.map((_, i) => stopAgent(i)));
      rest.close();
      await sb.stop();
    },
  };
}
