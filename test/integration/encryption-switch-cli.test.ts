// `rekey encryption switch` end to end on two real kube-apiservers with automatic reload, a node
// agent in write mode on each node (the key-id reporter with REKEY_CONFIG_WRITE=true, next to the
// second plugin, as the reporter's ServiceAccount with infra/components/config-write's grant), and
// writers through both apiservers throughout: identity -> kms:sandbox-kms, then
// kms:sandbox-kms -> kms:sandbox-kms-b, each through the CLI alone, ending with every value in
// scope under the target (etcd), data intact, no lost update, and an audit of every moment seen
// proving no apiserver wrote with a provider the other could not read. Then a node agent that
// cannot write its file: the switch stops Degraded naming that node, promotes nothing, and
// `rekey encryption rollback` brings every apiserver back to the previous revision.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { CoreV1Api } from '@kubernetes/client-node';
import {
  type ConfigHashReader,
  createConfigHashReader,
} from '../../shared/adapters/apiserver-metrics/config-hash-reader.ts';
import { createConfigRevisionStore } from '../../shared/adapters/k8s/config-revision-store.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import {
  parseEncryptionDocument,
  type RawEncryptionConfig,
} from '../../shared/domain/encryption-revisions/document.ts';
import { configHash } from '../../shared/domain/encryption-revisions/revision.ts';
import {
  type AppliedMoment,
  checkWriteReadSafety,
} from '../../shared/domain/encryption-revisions/write-read-safety.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import {
  installConfigWriteGrant,
  agentKubeconfigs as kubeconfigsForAgents,
} from '../support/config-write-agents.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { connection, coreApi, kubeConfig } from '../support/kube.ts';
import { rekeySettings, STATE_NAMESPACE } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { PROVIDER_NAME } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { startWorkload } from '../support/workload.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const AGENT = fileURLToPath(new URL('../../functions/key-id-reporter/main.ts', import.meta.url));
const NS = 'switch-cli';
const SECOND = 'sandbox-kms-b';
// three stages of about a minute each (the apiserver's reload poll) on a loaded machine
const SWITCH_TIMEOUT = '20m';

function run(args: string[], env: Record<string, string>): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('close', (code) => resolve({ code: code ?? -1, out }));
  });
}

describe('rekey encryption switch on two apiservers with node agents in write mode', () => {
  let sb: TestSandbox;
  let cliEnv: Record<string, string>;
  let apis: CoreV1Api[];
  let reader: ConfigHashReader;
  let closeRest = () => {};
  const agents: (ChildProcess | undefined)[] = [];
  let owned: { namespace: string; name: string }[] = [];
  let untouched: Map<string, string>;
  /** Per node: the reporter ServiceAccount's token on its apiserver (components/config-write). */
  let agentKubeconfigs: string[] = [];

  function startAgent(i: number, overrides: Record<string, string> = {}): void {
    const { env, dir } = sb;
    const a = env.apiservers[i];
    const second = env.managedEncryption?.secondSockets[i];
    assert.ok(a && second);
    const kubeconfig = agentKubeconfigs[i];
    assert.ok(kubeconfig);
    const log = join(dir, `agent-${i}.log`);
    const child = spawn(process.execPath, [AGENT], {
      env: {
        ...process.env,
        KMS_PLUGIN_SOCKET: second,
        REKEY_PROVIDER: SECOND,
        NODE_NAME: a.hostname,
        KUBECONFIG: kubeconfig,
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
    let text = '';
    child.stdout?.on('data', (d) => {
      text += d;
      writeFileSync(log, text);
    });
    child.stderr?.on('data', (d) => {
      text += d;
      writeFileSync(log, text);
    });
    agents[i] = child;
  }

  async function stopAgent(i: number): Promise<void> {
    const child = agents[i];
    if (!child || child.exitCode !== null) return;
    const closed = new Promise((r) => child.once('close', r));
    child.kill('SIGTERM');
    await closed;
  }

  before(async () => {
    sb = await startSandbox({ apiservers: 2, managedEncryption: { initial: 'identity' } });
    const { env } = sb;
    apis = env.apiservers.map((_, i) => coreApi(env, { apiserver: i }));
    const seeded = await seedSecrets(apis[0] as CoreV1Api, NS, { count: 30 });
    // the first 20 are written throughout; the last 10 never change: their data must survive
    owned = seeded.slice(0, 20).map((s) => ({ namespace: NS, name: s.metadata?.name ?? '' }));
    untouched = new Map(seeded.slice(20).map((s) => [s.metadata?.name ?? '', s.data?.value ?? '']));
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(env), KUBECONFIG: kubeconfig };
    const conn = connection(env, { user: 'rekey' });
    const rest = createRestClient(conn);
    closeRest = () => rest.close();
    reader = createConfigHashReader({
      rest,
      coordination: typedApi(rest).coordination,
      apiserverUrls: env.apiservers.map((a) => a.url),
      fallbackServer: conn.server,
      clock: systemClock,
    });
    // the agents run as an install runs them: the reporter's ServiceAccount, with the grant of
    // infra/components/config-write
    await installConfigWriteGrant(env);
    agentKubeconfigs = await kubeconfigsForAgents(env, sb.dir);
    for (const i of env.apiservers.keys()) startAgent(i);
    // the agents record the file as found as revision 1, then run it
    const store = createConfigRevisionStore(typedApi(rest).core, { namespace: STATE_NAMESPACE });
    await waitFor(
      'revision 1 recorded by a node agent',
      async () => ((await store.list()).length > 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
  });

  after(async () => {
    await Promise.all(agents.map((_, i) => stopAgent(i)));
    closeRest();
    await sb?.stop();
  });

  /** Runs the CLI while writers write and every applied configuration is audited. */
  async function switchWithWriters(args: string[]) {
    const { env } = sb;
    const known = new Map<string, RawEncryptionConfig>();
    const learnFiles = () => {
      for (const a of env.apiservers) {
        for (const f of [a.encryptionConfig, `${a.encryptionConfig}.previous`]) {
          if (!existsSync(f)) continue;
          const text = readFileSync(f, 'utf8');
          if (!known.has(configHash(text)))
            known.set(configHash(text), parseEncryptionDocument(text));
        }
      }
    };
    learnFiles();
    const moments: AppliedMoment[] = [];
    const unknown = new Set<string>();
    let auditing = true;
    const audit = (async () => {
      while (auditing) {
        learnFiles();
        const snap = await reader.read().catch(() => undefined);
        if (snap?.readable) {
          learnFiles();
          const applied: Record<string, RawEncryptionConfig> = {};
          for (const a of snap.live) {
            const doc = a.applied ? known.get(a.applied) : undefined;
            if (doc) applied[a.node ?? a.id] = doc;
            else unknown.add(`${a.node}: ${a.applied}`);
          }
          moments.push({ at: new Date().toISOString(), applied });
        }
        await new Promise((r) => setTimeout(r, 500));
      }
    })();
    const half = Math.ceil(owned.length / 2);
    const writers = [
      startWorkload(apis[0] as CoreV1Api, owned.slice(0, half), { clients: 2, pauseMs: 20 }),
      startWorkload(apis[1] as CoreV1Api, owned.slice(half), { clients: 2, pauseMs: 20 }),
    ];
    let result: { code: number; out: string };
    try {
      result = await run(args, cliEnv);
    } finally {
      auditing = false;
      await audit;
      const results = await Promise.all(writers.map((w) => w.stop()));
      for (const r of results) assert.deepEqual(r.errors, [], 'no write or read failed');
      for (const r of results) {
        for (const [key, value] of r.lastWritten) {
          const [namespace = '', name = ''] = key.split('/');
          for (const api of apis) {
            const s = await api.readNamespacedSecret({ name, namespace });
            assert.equal(s.data?.value, value, `${key} as last written (no lost update)`);
          }
        }
      }
    }
    return { ...result, moments, unknown };
  }

  async function assertAllUnder(kind: string, provider: string | null) {
    for (const resource of sb.env.encrypt ?? sb.env.resources) {
      const summary = await etcdSummary(sb.env, resource);
      const off = summary.rows.filter((r) => r.kind !== kind || r.provider !== provider);
      assert.deepEqual(off, [], `every ${resource} value under ${kind} ${provider ?? ''}`);
    }
    for (const [name, value] of untouched) {
      for (const api of apis) {
        const s = await api.readNamespacedSecret({ name, namespace: NS });
        assert.equal(s.data?.value, value, `${name} intact`);
      }
    }
  }

  it('identity -> kms:sandbox-kms through the CLI', async () => {
    const r = await switchWithWriters([
      'encryption',
      'switch',
      '--to',
      `kms:${PROVIDER_NAME}`,
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 0, r.out);
    assert.match(r.out, /completed: .*identity to kms:sandbox-kms/);
    await assertAllUnder('kms-v2', PROVIDER_NAME);
    assert.deepEqual([...r.unknown], [], 'every applied hash is a file a node agent wrote');
    assert.ok(r.moments.length > 10, 'the audit saw the rollout');
    assert.deepEqual(checkWriteReadSafety(r.moments, sb.env.encrypt ?? sb.env.resources), []);
    const status = await run(['encryption', 'status', '--output', 'json'], cliEnv);
    assert.equal(status.code, 0, status.out);
    const s = JSON.parse(status.out) as {
      revisions: { number: number; stage: string; state: string }[];
      apiservers: { onNodeHash: boolean }[];
    };
    assert.deepEqual(
      s.revisions.map((x) => [x.stage, x.state]),
      [
        ['found', 'applied'],
        ['add-read', 'applied'],
        ['write', 'applied'],
        ['remove-old', 'applied'],
      ],
    );
    assert.ok(s.apiservers.length === 2 && s.apiservers.every((a) => a.onNodeHash));
    assert.doesNotMatch(status.out, /secret:|k8s:enc/);
  });

  it('kms:sandbox-kms -> kms:sandbox-kms-b through the CLI', async () => {
    const r = await switchWithWriters([
      'encryption',
      'switch',
      '--to',
      `kms:${SECOND}`,
      '--until-complete',
      '--timeout',
      SWITCH_TIMEOUT,
    ]);
    assert.equal(r.code, 0, r.out);
    await assertAllUnder('kms-v2', SECOND);
    assert.deepEqual([...r.unknown], []);
    assert.deepEqual(checkWriteReadSafety(r.moments, sb.env.encrypt ?? sb.env.resources), []);
  });

  it('a node agent that cannot write: Degraded naming the node, no promotion, rollback ends clean', async () => {
    const bad = sb.env.apiservers[1];
    assert.ok(bad);
    await stopAgent(1);
    startAgent(1, { REKEY_CONFIG_FILE: join(sb.dir, 'no-such-directory', 'encryption.yaml') });
    const r = await run(
      ['encryption', 'switch', '--to', 'identity', '--until-complete', '--timeout', SWITCH_TIMEOUT],
      cliEnv,
    );
    assert.equal(r.code, 1, r.out);
    assert.match(r.out, new RegExp(`degraded: .*${bad.hostname}.*cannot apply`));
    const status = await run(['encryption', 'status', '--output', 'json'], cliEnv);
    const s = JSON.parse(status.out) as {
      revisions: { number: number; stage: string; state: string; degraded?: string }[];
    };
    const last = s.revisions.slice(-3);
    assert.deepEqual(
      last.map((x) => [x.stage, x.state]),
      [
        ['add-read', 'rolling-out'],
        ['write', 'planned'],
        ['remove-old', 'planned'],
      ],
      'nothing promoted past the stage that failed',
    );
    assert.match(last[0]?.degraded ?? '', new RegExp(bad.hostname));

    // the operator fixes the node and goes back to the previous revision
    await stopAgent(1);
    startAgent(1);
    const back = await run(
      ['encryption', 'rollback', '--until-complete', '--timeout', SWITCH_TIMEOUT],
      cliEnv,
    );
    assert.equal(back.code, 0, back.out);
    const after = JSON.parse(
      (await run(['encryption', 'status', '--output', 'json'], cliEnv)).out,
    ) as {
      desired: number;
      revisions: { number: number; stage: string; state: string }[];
      apiservers: { onNodeHash: boolean; nodeRevision: number }[];
    };
    assert.deepEqual(
      after.revisions.slice(-3).map((x) => x.state),
      ['rolled-back', 'abandoned', 'abandoned'],
    );
    assert.ok(after.apiservers.every((a) => a.onNodeHash && a.nodeRevision === after.desired));
    await assertAllUnder('kms-v2', SECOND);
  });
});
