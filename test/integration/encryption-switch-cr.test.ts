// The declared switch end to end: an EncryptionSwitch `cluster` (infra/base's CRD, installed by the
// sandbox like the rest of infra/base's top-level files) asks for kms:sandbox-kms-b on a sandbox
// of two real kube-apiservers whose EncryptionConfiguration starts at identity. The node agents run
// in write mode as the key-id reporter's ServiceAccount with the grant of
// infra/components/config-write (a token, not admin). The reconcile function is composed as it is
// deployed (shared/app, the `rekey` identity's RBAC) and ticked as the PingSource ticks it; its
// conditions go Progressing (each stage in turn) -> Completed, with every Secret then under
// sandbox-kms-b in etcd. Then the spec declares kms:sandbox-kms while one node agent is stopped:
// Degraded NodeAgentNotReporting, naming its node, while the stage waits; the agent back, the
// switch completes. `rekey encryption status` shows the object's conditions.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { handleReconcile } from '../../functions/reconcile/handler.ts';
import { composeApp, type RekeyApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import { driveEncryptionSwitch } from '../../shared/core/drive-encryption-switch.ts';
import type {
  EncryptionSwitchStatus,
  SwitchCondition,
} from '../../shared/domain/encryption-revisions/switch-conditions.ts';
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

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const AGENT = fileURLToPath(new URL('../../functions/key-id-reporter/main.ts', import.meta.url));
const SECOND = 'sandbox-kms-b';
const PING = 'dev.knative.sources.ping';
// three stages of about a minute each (the apiserver's reload poll) on a loaded machine
const SWITCH_TIMEOUT_MS = 20 * 60_000;

interface SwitchObject extends KubernetesObject {
  spec?: { target?: string; resources?: string[] };
  status?: EncryptionSwitchStatus;
}

const conds = (s: EncryptionSwitchStatus | undefined) =>
  Object.fromEntries((s?.conditions ?? []).map((c) => [c.type, `${c.status}/${c.reason}`]));

describe('the declared EncryptionSwitch, driven by the reconcile function on real apiservers', () => {
  let sb: TestSandbox;
  let app: RekeyApp;
  let objects: KubernetesObjectApi;
  let cliEnv: Record<string, string>;
  const agents: (ChildProcess | undefined)[] = [];
  const agentKubeconfigs: string[] = [];

  function startAgent(i: number): void {
    const a = sb.env.apiservers[i];
    const second = sb.env.managedEncryption?.secondSockets[i];
    assert.ok(a && second);
    const log: string[] = [];
    const child = spawn(process.execPath, [AGENT], {
      env: {
        ...process.env,
        KMS_PLUGIN_SOCKET: second,
        REKEY_PROVIDER: SECOND,
        NODE_NAME: a.hostname,
        KUBECONFIG: agentKubeconfigs[i] as string,
        REPORT_INTERVAL_SECONDS: '2',
        ENCRYPTION_CONFIG_FILE: a.encryptionConfig,
        REKEY_CONFIG_WRITE: 'true',
        REKEY_STATE_NAMESPACE: STATE_NAMESPACE,
        REKEY_KMS_ENDPOINTS: `${PROVIDER_NAME}=unix://${a.plugin.socket},${SECOND}=unix://${second}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const keep = (d: Buffer) => {
      log.push(d.toString());
      writeFileSync(join(sb.dir, `agent-${i}.log`), log.join(''));
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

  const read = async () =>
    (await objects.read({
      apiVersion: 'rekey.dev/v1alpha1',
      kind: 'EncryptionSwitch',
      metadata: { name: 'cluster' },
    })) as SwitchObject;

  /** Ticks the reconcile function as the PingSource does until `done` holds; every status seen. */
  async function tickUntil(
    what: string,
    done: (s: EncryptionSwitchStatus | undefined) => boolean,
    tick: () => Promise<unknown>,
  ): Promise<EncryptionSwitchStatus[]> {
    const seen: EncryptionSwitchStatus[] = [];
    await waitFor(
      what,
      async () => {
        await tick();
        const s = (await read()).status;
        if (s) seen.push(s);
        return done(s) ? true : undefined;
      },
      { timeoutMs: SWITCH_TIMEOUT_MS, intervalMs: 3000 },
    );
    return seen;
  }

  before(async () => {
    sb = await startSandbox({ apiservers: 2, managedEncryption: { initial: 'identity' } });
    const { env } = sb;
    const kc = kubeConfig(env);
    objects = KubernetesObjectApi.makeApiClient(kc);
    await seedSecrets(coreApi(env), 'switch-cr', { count: 20 });
    // the agents as the reporter's ServiceAccount with the grant of components/config-write
    await installConfigWriteGrant(env);
    agentKubeconfigs.push(...(await kubeconfigsForAgents(env, sb.dir)));
    for (const i of env.apiservers.keys()) startAgent(i);
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(env), KUBECONFIG: kubeconfig };
    app = composeApp(loadConfig(rekeySettings(env)), {
      connection: connection(env, { user: 'rekey' }),
    });
    // revision 1: the file as found, recorded by an agent with its ServiceAccount's grant
    await waitFor(
      'revision 1 recorded by a node agent',
      async () => ((await app.encryption().revisions.list()).length > 0 ? true : undefined),
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
    // the CRD came with infra/base: wait until it serves
    await waitFor(
      'an EncryptionSwitch can be created',
      async () => {
        await objects.create({
          apiVersion: 'rekey.dev/v1alpha1',
          kind: 'EncryptionSwitch',
          metadata: { name: 'cluster' },
          spec: { target: `kms:${SECOND}` },
        } as SwitchObject);
        return true;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
  });

  after(async () => {
    await Promise.all(agents.map((_, i) => stopAgent(i)));
    app?.close();
    await sb?.stop();
  });

  it('identity -> kms:sandbox-kms-b: Progressing through every stage, then Completed', async () => {
    const fns = app.functions('reconcile', ['reconcile']);
    assert.ok(fns.reconcile.encryptionSwitch, 'the reconcile function drives EncryptionSwitches');
    const seen = await tickUntil(
      'the EncryptionSwitch Completed',
      (s) => conds(s).Completed === 'True/Switched',
      // the function's answer to a tick; its key step for sandbox-kms has nothing to do here
      () => handleReconcile(fns.reconcile, PING).catch(() => undefined),
    );
    const stages = [...new Set(seen.map((s) => `${s.stage} ${conds(s).Progressing}`))];
    assert.deepEqual(
      stages.filter((x) => x.endsWith('True/AddingReadProvider') || x.startsWith('Done')),
      ['AddRead True/AddingReadProvider', 'Done False/Switched'],
      stages.join('; '),
    );
    assert.ok(
      stages.includes('Write True/SwitchingWriteProvider') ||
        stages.includes('RemoveOld True/RemovingOldProvider'),
      `later stages seen: ${stages.join('; ')}`,
    );
    assert.ok(
      seen.every((s) => conds(s).Degraded === 'False/AsExpected'),
      'never Degraded on the way',
    );
    const last = (await read()).status;
    assert.ok(last);
    assert.equal(last.observedGeneration, 1);
    assert.equal(last.switchRevisions.length, 3);
    assert.equal(last.configRevision, last.switchRevisions.at(-1));
    assert.equal(last.apiservers.length, 2);
    assert.ok(last.apiservers.every((a) => a.appliedHash?.startsWith('sha256:')));
    for (const c of last.conditions as SwitchCondition[]) {
      assert.ok(!Number.isNaN(Date.parse(c.lastTransitionTime)), c.type);
    }
    for (const resource of sb.env.encrypt ?? sb.env.resources) {
      const summary = await etcdSummary(sb.env, resource);
      const off = summary.rows.filter((r) => r.kind !== 'kms-v2' || r.provider !== SECOND);
      assert.deepEqual(off, [], `every ${resource} value under ${SECOND}`);
    }

    const status = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [CLI, 'encryption', 'status', '--output', 'json'], {
        env: { ...process.env, ...cliEnv },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      child.on('close', () => resolve(out));
    });
    const parsed = JSON.parse(status) as {
      declared: { name: string; status: EncryptionSwitchStatus } | null;
    };
    assert.equal(parsed.declared?.name, 'cluster');
    assert.equal(conds(parsed.declared?.status).Completed, 'True/Switched');
    assert.doesNotMatch(status, /secret:|k8s:enc/);
  });

  it('a node agent stopped while the next switch rolls out: Degraded NodeAgentNotReporting, then Completed once it runs again', async () => {
    const stopped = sb.env.apiservers[1];
    assert.ok(stopped);
    await stopAgent(1);
    // the operator declares another target: a new generation
    const current = await read();
    await objects.replace({ ...current, spec: { target: `kms:${PROVIDER_NAME}` } } as SwitchObject);
    // the same use case and ports as the function, with a short maximum age for an agent's report
    // (the function's is 5 minutes) so that the stopped agent counts as stopped within the test
    const tick = () =>
      driveEncryptionSwitch(
        {
          switches: app.encryptionSwitches(),
          switching: app.encryption(),
          agentMaxAgeMs: 20_000,
        },
        { deadline: Date.now() + 20_000 },
      );
    const degraded = await tickUntil(
      'Degraded: a node agent stopped reporting',
      (s) => conds(s).Degraded === 'True/NodeAgentNotReporting',
      tick,
    );
    const d = degraded.at(-1);
    assert.equal(d?.observedGeneration, 2);
    assert.equal(conds(d).Progressing, 'True/AddingReadProvider');
    assert.equal(conds(d).Completed, 'False/NotDone');
    assert.match(
      d?.conditions.find((c) => c.type === 'Degraded')?.message ?? '',
      new RegExp(stopped.hostname),
    );

    startAgent(1);
    const resumed = await tickUntil(
      'the second switch Completed',
      (s) => conds(s).Completed === 'True/Switched' && s?.observedGeneration === 2,
      tick,
    );
    assert.ok(resumed.some((s) => conds(s).Degraded === 'False/AsExpected'));
    for (const resource of sb.env.encrypt ?? sb.env.resources) {
      const summary = await etcdSummary(sb.env, resource);
      const off = summary.rows.filter((r) => r.kind !== 'kms-v2' || r.provider !== PROVIDER_NAME);
      assert.deepEqual(off, [], `every ${resource} value under ${PROVIDER_NAME}`);
    }
  });
});
