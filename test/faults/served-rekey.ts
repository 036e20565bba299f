// `rekey serve` for fault tests: like test/support/rekey-serve.ts (rekey's own identity, a broker
// stand-in routing continuations back to /reconcile), but the process can be SIGKILLed and started
// again, and PingSource ticks keep coming whatever the answer, as a real PingSource would.
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Broker, deliver, startBroker } from '../support/knative-broker.ts';
import { kubeConfig } from '../support/kube.ts';
import { rekeySettings } from '../support/rekey-fixture.ts';
import { PING } from '../support/rekey-serve.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { freePort, waitFor } from '../support/sandbox/net.ts';
import { type StepGate, startStepGate } from './step-gate.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const CONTINUATION = 'dev.rekey.migration.slice';
const TICK_MS = 2000;

export interface FaultServedRekey {
  /** The current process's base URL (changes after a restart). */
  base(): string;
  broker: Broker;
  /** Every tick and continuation passes it: hold it and rekey takes no step (test/faults/step-gate.ts). */
  gate: StepGate;
  output(): string;
  /** Ticks answered other than 200, by status (0 = no answer). */
  tickFailures: Map<number, number>;
  /** SIGKILL, no goodbye: what an OOM kill or a node loss does to a function instance. */
  kill(): Promise<void>;
  /** Starts a fresh process (new port; the broker routes continuations to it). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Small slices (`REKEY_PAGE_SIZE` 10, one patch at a time, 1 s budget) so that a few hundred
 * secrets take long enough for a fault to land mid-migration; `settings` overrides them.
 */
export async function serveForFaults(
  env: SandboxEnv,
  dir: string,
  settings: Record<string, string> = {},
): Promise<FaultServedRekey> {
  const routes: Record<string, string> = {};
  const broker = await startBroker(routes);
  const kubeconfig = join(dir, 'kubeconfig-rekey-faults');
  writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig());
  const out: string[] = [];
  const tickFailures = new Map<number, number>();
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let base = '';
  let stopped = false;
  const tick = () => deliver(`${base}/reconcile`, PING, { retries: 0 });
  const gate = await startStepGate(
    () => `${base}/reconcile`,
    () => gate.pass(tick),
  );
  routes[CONTINUATION] = gate.url;

  async function start(): Promise<void> {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    const c = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
      env: {
        ...process.env,
        ...rekeySettings(env, {
          REKEY_BUDGET_SECONDS: '1',
          REKEY_PAGE_SIZE: '10',
          REKEY_CONCURRENCY: '1',
        }),
        KUBECONFIG: kubeconfig,
        K_SINK: broker.url,
        // on loopback only: kms-event takes the fault tests' CloudEvents as a cluster-local one
        REKEY_KMS_EVENT_PRIVATE: 'true',
        LOG_LEVEL: 'warn',
        ...settings,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    exited = new Promise((r) => c.on('exit', () => r()));
    c.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
    c.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
    const url = base;
    await waitFor('rekey serve /healthz', async () =>
      (await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined,
    );
  }

  // a PingSource never stops because one delivery failed: it only counts what came back
  const ticker = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, TICK_MS));
      if (stopped || !child || child.exitCode !== null || child.signalCode !== null) continue;
      const status = await gate
        .pass(tick)
        .then((r) => r.status)
        .catch(() => 0);
      if (status !== 200) tickFailures.set(status, (tickFailures.get(status) ?? 0) + 1);
    }
  })();

  await start();
  return {
    base: () => base,
    broker,
    gate,
    output: () => out.join('').slice(-3000),
    tickFailures,
    async kill() {
      child?.kill('SIGKILL');
      await exited;
    },
    start,
    async stop() {
      stopped = true;
      gate.open();
      await ticker;
      child?.kill('SIGTERM');
      await exited;
      await broker.close();
      await gate.close();
    },
  };
}
