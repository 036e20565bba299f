// rekey's four functions as infra/ deploys them, on the real Knative tier (./knative/up.ts):
// each from its own entry point (functions/<name>/main.ts), each as its own ServiceAccount with a
// real token the sandbox apiserver issued (TokenRequest), the trigger functions with
// REKEY_STEP_MODE=delegate, the Broker's ingress as K_SINK, and infra/'s Triggers, PingSource and
// ApiServerSources carrying the events between them. An observer Trigger without a filter records
// every event on the Broker, so a test asserts on the chain as data.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig } from '@kubernetes/client-node';
import { applyTriggers, observeBroker, tickEvery, unobserveBroker } from './knative/observer.ts';
import type { Delivery, Recorder } from './knative/recorder.ts';
import { upKnative } from './knative/up.ts';
import { coreApi, kubeConfig } from './kube.ts';
import { rekeySettings } from './rekey-fixture.ts';
import type { KnativeEnv, SandboxEnv } from './sandbox/env-file.ts';
import { waitFor } from './sandbox/net.ts';

export const FUNCTIONS = ['reconcile', 'kms-event', 'cluster-event', 'webhook'] as const;
export type DeployedName = (typeof FUNCTIONS)[number];

export interface DeployedFunction {
  name: DeployedName;
  base: string;
  /** The kubeconfig of its ServiceAccount (to show what that identity may do). */
  kubeconfig: KubeConfig;
  /** The last `chars` characters of its log (default 3000). */
  output(chars?: number): string;
}

export interface Deployed {
  fn: Record<DeployedName, DeployedFunction>;
  knative: KnativeEnv;
  /** Every event the Broker carried, as an observer Trigger without a filter received it. */
  broker: Recorder;
  /** The events of `type` the Broker carried since `since` (ms). */
  seen(type: string, since?: number): Delivery[];
  /** The step requests the Broker carried since `since`, by who requested them. */
  requestedBy(since?: number): string[];
  /** Every function's log tail (for failure messages). */
  outputs(): string;
  /** Waits, reading state only, until `done` holds; fails naming `what`, with the logs. */
  until(what: string, done: () => Promise<boolean>, limitMs: number): Promise<void>;
  /** Removes the observer; the tier's processes stop with the sandbox (`down`). */
  stop(): Promise<void>;
}

export interface DeployOptions {
  /** Settings per function, on top of the sandbox overlay's (a KMS key, a webhook secret). */
  settings?: Partial<Record<DeployedName, Record<string, string>>>;
  /** YAML files of Triggers an overlay adds (e.g. infra/overlays/aws/triggers.yaml). */
  triggers?: string[];
  /** PingSource every this many seconds instead of infra's minute (see tickEvery). */
  tickSeconds?: number;
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

/** An overlay's Triggers file, e.g. `overlayTriggers('aws')`. */
export function overlayTriggers(overlay: string): string {
  return fileURLToPath(new URL(`../../infra/overlays/${overlay}/triggers.yaml`, import.meta.url));
}

/** Starts the Knative tier on `env` with rekey's functions, an observer, and `o`'s additions. */
export async function deployFunctions(env: SandboxEnv, o: DeployOptions = {}): Promise<Deployed> {
  const settings: Record<string, Record<string, string>> = {};
  for (const [name, values] of Object.entries(o.settings ?? {})) {
    settings[`rekey-${name}`] = values;
  }
  const knative = await upKnative(env, { settings });
  const broker = await observeBroker(env, knative);
  if (o.triggers?.length) applyTriggers(env, knative, o.triggers);
  if (o.tickSeconds) tickEvery(env, knative, o.tickSeconds);
  const fn = {} as Record<DeployedName, DeployedFunction>;
  for (const name of FUNCTIONS) {
    const base = knative.services[`rekey-${name}`];
    const log = env.processes.find((p) => p.name === `rekey-${name}`)?.log;
    if (!base || !log) throw new Error(`the Knative tier runs no rekey-${name}`);
    const kubeconfig = new KubeConfig();
    kubeconfig.loadFromFile(join(env.dir, `kubeconfig-sa-${name}`));
    fn[name] = {
      name,
      base,
      kubeconfig,
      output: (chars = 3000) => readFileSync(log, 'utf8').slice(-chars),
    };
  }
  const outputs = () => FUNCTIONS.map((n) => `--- ${n}:\n${fn[n].output()}`).join('\n');
  const seen = (type: string, since = 0) =>
    broker.deliveries.filter((d) => d.attributes.type === type && d.at >= since);
  return {
    fn,
    knative,
    broker,
    seen,
    requestedBy: (since = 0) =>
      seen('dev.rekey.step.requested', since).map(
        (d) => (d.data as { requestedBy?: string } | undefined)?.requestedBy ?? '',
      ),
    outputs,
    until: (what, done, limitMs) =>
      waitFor(what, async () => ((await done()) ? true : undefined), {
        timeoutMs: limitMs,
        intervalMs: 1000,
      }).then(
        () => {},
        (err: Error) => {
          throw new Error(`${err.message}\n${outputs()}`);
        },
      ),
    // a sandbox already down has no Trigger left to remove: nothing to report then
    stop: () => unobserveBroker(env, knative, broker).catch(() => {}),
  };
}
