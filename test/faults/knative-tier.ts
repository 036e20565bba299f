// The real Knative tier under a fault test (test/support/knative/up.ts): Knative Eventing's Broker
// ingress and filter, the InMemoryChannel dispatcher, the PingSource and ApiServerSource adapters,
// infra/'s Triggers as deployed, rekey's cluster-event, kms-event and webhook functions as
// upKnative runs them. rekey-reconcile's Knative Service address is the step gate
// (test/faults/step-gate.ts), which forwards to a reconcile process the test manages
// (test/faults/served-rekey.ts). The test file imports test/support/knative/in-private-network.ts
// first: the dispatcher binds fixed ports.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { serviceAccountKubeConfig } from '../support/deployed-functions.ts';
import { writeSourceStatuses } from '../support/knative/controllers.ts';
import { kubectl } from '../support/knative/kubectl.ts';
import { addressesOf, upKnative } from '../support/knative/up.ts';
import type { KnativeEnv, SandboxEnv } from '../support/sandbox/env-file.ts';
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
  /** ServiceAccount rekey-reconcile's kubeconfig: its file and its content. */
  reconcileKubeconfig: { file: string; json: string };
  close(): Promise<void>;
}

/** `kmsEvent`: kms-event's own settings (e.g. the key its AWS events must name). */
export async function upFaultTier(
  env: SandboxEnv,
  o: { kmsEvent?: Record<string, string>; log?: (line: string) => void } = {},
): Promise<FaultKnativeTier> {
  const started = Date.now();
  let target = '';
  const gate = await startStepGate(() => target);
  try {
    const knative = await upKnative(env, {
      serviceUrls: { 'rekey-reconcile': gate.address },
      ...(o.kmsEvent ? { settings: { 'rekey-kms-event': o.kmsEvent } } : {}),
      ...(o.log ? { log: o.log } : {}),
    });
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

    return {
      knative,
      upSeconds: Number(((Date.now() - started) / 1000).toFixed(1)),
      gate,
      setTarget(base) {
        target = base;
      },
      reconcileKubeconfig: { file, json },
      async close() {
        await gate.close();
      },
    };
  } catch (err) {
    await gate.close();
    throw err;
  }
}
