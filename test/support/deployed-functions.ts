// rekey's four functions as infra/ deploys them: each from its own entry point
// (functions/<name>/main.ts), each as its own ServiceAccount with a real token the sandbox
// apiserver issued (TokenRequest), the trigger functions with REKEY_STEP_MODE=delegate, and a
// broker stand-in as K_SINK that routes step requests and continuations to reconcile, as the
// Triggers of infra/base/knative/triggers.yaml do.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { type Broker, startBroker } from './knative-broker.ts';
import { coreApi, kubeConfig } from './kube.ts';
import { rekeySettings } from './rekey-fixture.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';
import { freePort, waitFor } from './sandbox/net.ts';

export const FUNCTIONS = ['reconcile', 'kms-event', 'cluster-event', 'webhook'] as const;
export type DeployedName = (typeof FUNCTIONS)[number];

export interface DeployedFunction {
  name: DeployedName;
  base: string;
  /** The kubeconfig of its ServiceAccount (to show what that identity may do). */
  kubeconfig: KubeConfig;
  output(): string;
}

export interface Deployed {
  fn: Record<DeployedName, DeployedFunction>;
  broker: Broker;
  stop(): Promise<void>;
}

/** A kubeconfig for ServiceAccount `name` of rekey-system, with a token the apiserver issued. */
export async function serviceAccountKubeConfig(
  env: SandboxEnv,
  name: string,
  expirationSeconds = 3600,
): Promise<KubeConfig> {
  const review = await coreApi(env).createNamespacedServiceAccountToken({
    name,
    namespace: 'rekey-system',
    body: { spec: { audiences: ['https://kubernetes.default.svc'], expirationSeconds } },
  });
  const token = review.status?.token;
  if (!token) throw new Error(`no token issued for ServiceAccount ${name}`);
  const admin = kubeConfig(env);
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the sandbox kubeconfig has no cluster');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name, token }],
    contexts: [{ name, cluster: cluster.name, user: name }],
    currentContext: name,
  });
  return kc;
}

/** Function `name`'s entry point, as its Knative Service's container runs it. */
export function functionMain(name: DeployedName): string {
  return fileURLToPath(new URL(`../../functions/${name}/main.ts`, import.meta.url));
}

/**
 * The environment function `name` runs with: the sandbox's settings (`settings` on top), its
 * ServiceAccount's kubeconfig, K_SINK, PORT, and REKEY_STEP_MODE=delegate for the trigger
 * functions, as infra/ deploys them.
 */
export function functionEnv(
  env: SandboxEnv,
  name: DeployedName,
  o: { kubeconfig: string; sink: string; port: number; settings?: Record<string, string> },
): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...rekeySettings(env, { REKEY_BUDGET_SECONDS: '1', REKEY_PAGE_SIZE: '25', LOG_LEVEL: 'warn' }),
    ...(name === 'reconcile' ? {} : { REKEY_STEP_MODE: 'delegate' }),
    // reachable from this machine only, and the tests send no Knative tokens
    ...(name === 'kms-event' ? { REKEY_KMS_EVENT_PRIVATE: 'true' } : {}),
    ...o.settings,
    KUBECONFIG: o.kubeconfig,
    K_SINK: o.sink,
    PORT: String(o.port),
  };
}

export async function deployFunctions(
  env: SandboxEnv,
  dir: string,
  settings: Partial<Record<DeployedName, Record<string, string>>> = {},
): Promise<Deployed> {
  const routes: Record<string, string> = {};
  const broker = await startBroker(routes);
  const children: ChildProcess[] = [];
  const fn = {} as Record<DeployedName, DeployedFunction>;
  try {
    for (const name of FUNCTIONS) {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const kc = await serviceAccountKubeConfig(env, `rekey-${name}`);
      const file = join(dir, `kubeconfig-sa-${name}`);
      writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
      const child = spawn(process.execPath, [functionMain(name)], {
        env: functionEnv(env, name, {
          kubeconfig: file,
          sink: broker.url,
          port,
          ...(settings[name] ? { settings: settings[name] } : {}),
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      children.push(child);
      const out: string[] = [];
      child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
      child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
      const output = () => out.join('').slice(-3000);
      await waitFor(`rekey ${name} /healthz`, async () => {
        if (child.exitCode !== null) throw new Error(`${name} exited: ${output()}`);
        return (await fetch(`${base}/healthz`).catch(() => undefined))?.ok ? true : undefined;
      });
      fn[name] = { name, base, kubeconfig: kc, output };
    }
  } catch (err) {
    for (const c of children) c.kill('SIGTERM');
    await broker.close();
    throw err;
  }
  routes['dev.rekey.step.requested'] = `${fn.reconcile.base}/reconcile`;
  routes['dev.rekey.migration.slice'] = `${fn.reconcile.base}/reconcile`;
  return {
    fn,
    broker,
    async stop() {
      for (const c of children) c.kill('SIGTERM');
      await broker.close();
    },
  };
}
