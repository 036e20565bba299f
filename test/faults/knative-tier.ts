// The real Knative tier under a fault test (test/support/knative/up.ts): Knative Eventing's Broker
// ingress and filter, the InMemoryChannel dispatcher, the PingSource and ApiServerSource adapters,
// infra/'s Triggers as deployed, rekey's cluster-event, kms-event and webhook functions as
// upKnative runs them. rekey-reconcile's Knative Service address is the step gate
// (test/faults/step-gate.ts), which forwards to a reconcile process the test manages
// (test/faults/served-rekey.ts). The test file imports test/support/knative/in-private-network.ts
// first: the dispatcher binds fixed ports.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  functionEnv,
  functionMain,
  serviceAccountKubeConfig,
} from '../support/deployed-functions.ts';
import { writeSourceStatuses } from '../support/knative/controllers.ts';
import { kubectl } from '../support/knative/kubectl.ts';
import { addressesOf, upKnative } from '../support/knative/up.ts';
import type { KnativeEnv, SandboxEnv } from '../support/sandbox/env-file.ts';
import { freePort, waitFor } from '../support/sandbox/net.ts';
import { type StepGate, startStepGate } from './step-gate.ts';

/**
 * The PingSource's schedule in the fault tests: infra's is every minute ("* * * * *"); the real
 * PingSource adapter (robfig/cron with the optional seconds field) ticks every 2 s here, so that a
 * held migration has a tick to take its next step with, and a lost continuation is picked up
 * within seconds rather than a minute.
 */
export const FAULT_TICK_SCHEDULE = '*/2 * * * * *';

export interface FaultKnativeTier {
  knative: KnativeEnv;
  /** How long the tier took to come up (upKnative and the fault settings above it). */
  upSeconds: number;
  /** Held until the test serves reconcile (nothing reaches reconcile before). */
  gate: StepGate;
  /** Where the gate forwards (the reconcile process's base URL; empty: none runs). */
  setTarget(base: string): void;
  /** ServiceAccount rekey-reconcile's kubeconfig (file and its parsed form's JSON). */
  reconcileKubeconfig: { file: string; json: string };
  close(): Promise<void>;
}

/**
 * `kmsEvent`: settings for kms-event (e.g. the key its AWS events must name); given, the tier runs
 * kms-event itself with them (same entry point, ServiceAccount and K_SINK as upKnative would).
 */
export async function upFaultTier(
  env: SandboxEnv,
  o: { kmsEvent?: Record<string, string>; log?: (line: string) => void } = {},
): Promise<FaultKnativeTier> {
  const started = Date.now();
  let target = '';
  const gate = await startStepGate(() => target);
  const serviceUrls: Record<string, string> = { 'rekey-reconcile': gate.address };
  const kmsEventPort = o.kmsEvent ? await freePort() : undefined;
  if (kmsEventPort) serviceUrls['rekey-kms-event'] = `http://127.0.0.1:${kmsEventPort}`;
  let kmsEvent: ChildProcess | undefined;
  try {
    const knative = await upKnative(env, { serviceUrls, ...(o.log ? { log: o.log } : {}) });
    kubectl(env, [
      'patch',
      'pingsources.sources.knative.dev',
      'rekey-tick',
      '-n',
      'rekey-system',
      '--type=merge',
      '-p',
      JSON.stringify({ spec: { schedule: FAULT_TICK_SCHEDULE } }),
    ]);
    // the status for the new generation, as Knative's PingSource controller would write it
    writeSourceStatuses(env, addressesOf(knative));

    const kc = await serviceAccountKubeConfig(env, 'rekey-reconcile', 48 * 3600);
    const file = join(env.dir, 'kubeconfig-sa-reconcile-faults');
    const json = kc.exportConfig();
    writeFileSync(file, json, { mode: 0o600 });

    if (o.kmsEvent && kmsEventPort) {
      const kmsKc = await serviceAccountKubeConfig(env, 'rekey-kms-event', 48 * 3600);
      const kmsFile = join(env.dir, 'kubeconfig-sa-kms-event-faults');
      writeFileSync(kmsFile, kmsKc.exportConfig(), { mode: 0o600 });
      const out: string[] = [];
      const c = spawn(process.execPath, [functionMain('kms-event')], {
        env: functionEnv(env, 'kms-event', {
          kubeconfig: kmsFile,
          sink: knative.brokerUrl,
          port: kmsEventPort,
          settings: { LOG_LEVEL: 'warn', ...o.kmsEvent },
        }),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      kmsEvent = c;
      c.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
      c.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
      await waitFor('rekey kms-event /healthz', async () => {
        if (c.exitCode !== null) throw new Error(`kms-event exited: ${out.join('').slice(-2000)}`);
        return (await fetch(`http://127.0.0.1:${kmsEventPort}/healthz`).catch(() => undefined))?.ok
          ? true
          : undefined;
      });
    }
    return {
      knative,
      upSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
      gate,
      setTarget(base) {
        target = base;
      },
      reconcileKubeconfig: { file, json },
      async close() {
        kmsEvent?.kill('SIGTERM');
        await gate.close();
      },
    };
  } catch (err) {
    kmsEvent?.kill('SIGTERM');
    await gate.close();
    throw err;
  }
}
