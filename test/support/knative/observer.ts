// What a test adds to the Knative tier: an observer Trigger without a filter (it sees every event
// on the Broker, the chain as data), Triggers an overlay deploys on top of the base (the AWS or
// GCP overlay's routes of KMS events to kms-event), and a faster PingSource schedule.
import { readFileSync } from 'node:fs';
import type { KnativeEnv, SandboxEnv } from '../sandbox/env-file.ts';
import { BROKER_NAMESPACE, writeEventingStatuses, writeSourceStatuses } from './controllers.ts';
import { kubectl } from './kubectl.ts';
import { type Recorder, startRecorder } from './recorder.ts';
import { addressesOf } from './up.ts';

/** Starts a recorder and subscribes it to the Broker by a Trigger without a filter. */
export async function observeBroker(env: SandboxEnv, knative: KnativeEnv): Promise<Recorder> {
  const observer = await startRecorder();
  kubectl(
    env,
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'eventing.knative.dev/v1',
      kind: 'Trigger',
      metadata: { name: 'test-observer', namespace: BROKER_NAMESPACE },
      spec: { broker: 'rekey', subscriber: { uri: `${observer.url}/` } },
    }),
  );
  writeEventingStatuses(env, addressesOf(knative));
  return observer;
}

/** Applies YAML files of Triggers (an overlay's) and writes what the controllers would. */
export function applyTriggers(env: SandboxEnv, knative: KnativeEnv, files: string[]): void {
  for (const file of files) kubectl(env, ['apply', '-f', '-'], readFileSync(file, 'utf8'));
  writeEventingStatuses(env, addressesOf(knative));
}

/**
 * Re-applies infra's PingSource with a schedule of every `seconds` seconds (Knative's PingSource
 * takes a 6-field cron with seconds): the real adapter ticks, only more often than infra's minute,
 * so that a test waiting on a step that needs a tick (a gate that opens between steps) is not
 * held for a minute each time.
 */
export function tickEvery(env: SandboxEnv, knative: KnativeEnv, seconds: number): void {
  kubectl(env, [
    'patch',
    'pingsources.sources.knative.dev',
    'rekey-tick',
    '-n',
    BROKER_NAMESPACE,
    '--type=merge',
    '-p',
    JSON.stringify({ spec: { schedule: `*/${seconds} * * * * *` } }),
  ]);
  writeSourceStatuses(env, addressesOf(knative));
}

/** Removes the observer's Trigger (so the Broker stops delivering to it) and closes it. */
export async function unobserveBroker(
  env: SandboxEnv,
  knative: KnativeEnv,
  observer: Recorder,
): Promise<void> {
  kubectl(env, [
    'delete',
    'triggers.eventing.knative.dev',
    'test-observer',
    '-n',
    BROKER_NAMESPACE,
  ]);
  writeEventingStatuses(env, addressesOf(knative));
  await observer.close();
}
