// The reconcile function for fault tests, on the real Knative tier (test/faults/knative-tier.ts):
// functions/reconcile/main.ts under its ServiceAccount, as its Knative Service runs it, with the
// Broker as K_SINK. The Triggers deliver to the step gate as rekey-reconcile's address and the gate
// forwards to this process, which the test can SIGKILL and start again (a new port; the gate
// follows it).
import { type ChildProcess, spawn } from 'node:child_process';
import { functionEnv, functionMain } from '../support/deployed-functions.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { freePort, waitFor } from '../support/sandbox/net.ts';
import { type StepGate, TICK_TYPE } from './step-gate.ts';

export interface FaultServedRekey {
  /** The current reconcile process's base URL (changes after a restart). */
  base(): string;
  /** Every tick, continuation and step request passes it: hold it and rekey takes no step. */
  gate: StepGate;
  output(): string;
  /** Ticks reconcile answered other than 2xx, by status (502 = reconcile not reachable). */
  readonly tickFailures: Map<number, number>;
  /** SIGKILL, no goodbye: what an OOM kill or a node loss does to a function instance. */
  kill(): Promise<void>;
  /** Starts a fresh process (new port; the gate forwards to it). */
  start(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Small slices (`REKEY_PAGE_SIZE` 10, one patch at a time, 1 s budget) so that a few hundred
 * secrets take long enough for a fault to land mid-migration; `settings` overrides them.
 */
export async function serveReconcile(
  env: SandboxEnv,
  o: {
    gate: StepGate;
    /** Where `gate` forwards: set to the current process's base URL. */
    setTarget: (base: string) => void;
    /** The kubeconfig file of ServiceAccount rekey-reconcile. */
    kubeconfig: string;
    broker: string;
    /** reconcile's settings; KUBECONFIG among them replaces `kubeconfig`. */
    settings?: Record<string, string>;
  },
): Promise<FaultServedRekey> {
  const out: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let base = '';

  // functionEnv sets KUBECONFIG last: a test's own (through a proxy) goes in as the kubeconfig
  const { KUBECONFIG: kubeconfig = o.kubeconfig, ...settings } = o.settings ?? {};

  async function start(): Promise<void> {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const c = spawn(process.execPath, [functionMain('reconcile')], {
      env: functionEnv(env, 'reconcile', {
        kubeconfig,
        sink: o.broker,
        port,
        settings: {
          REKEY_BUDGET_SECONDS: '1',
          REKEY_PAGE_SIZE: '10',
          REKEY_CONCURRENCY: '1',
          LOG_LEVEL: 'warn',
          ...settings,
        },
      }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    exited = new Promise((r) => c.on('exit', () => r()));
    c.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
    c.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
    await waitFor('rekey reconcile /healthz', async () => {
      if (c.exitCode !== null) throw new Error(`reconcile exited: ${out.join('').slice(-2000)}`);
      return (await fetch(`${url}/healthz`).catch(() => undefined))?.ok ? true : undefined;
    });
    base = url;
    o.setTarget(url);
  }

  await start();
  return {
    base: () => base,
    gate: o.gate,
    output: () => out.join('').slice(-3000),
    get tickFailures() {
      const m = new Map<number, number>();
      for (const a of o.gate.arrivals) {
        if (a.type !== TICK_TYPE || a.refused || a.status === undefined) continue;
        if (a.status >= 200 && a.status < 300) continue;
        m.set(a.status, (m.get(a.status) ?? 0) + 1);
      }
      return m;
    },
    async kill() {
      child?.kill('SIGKILL');
      await exited;
    },
    start,
    async stop() {
      o.setTarget('');
      child?.kill('SIGTERM');
      await exited;
    },
  };
}
