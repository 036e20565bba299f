// Starts runner.ts in a process of its own, as rekey's least-privilege identity, and hands back
// its "ready" signal and its result line.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { kubeConfig } from '../support/kube.ts';
import { rekeySettings } from '../support/rekey-fixture.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { type CpuSeconds, formatCpuPids } from './proc-cpu.ts';
import type { TimelineMs } from './timeline.ts';

const RUNNER = fileURLToPath(new URL('./runner.ts', import.meta.url));
/**
 * V8 heap settings of the runner: by default those the deployed functions run with (infra sets
 * NODE_OPTIONS to the same), since Node's defaults let garbage pile up to several hundred MB before
 * collecting it (infra/base/knative/services.yaml). BENCH_NODE_FLAGS='' measures Node's defaults.
 */
const NODE_FLAGS = (
  process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=4 --max-old-space-size=160'
)
  .split(' ')
  .filter(Boolean);

export interface RunnerResult {
  phase: string;
  counts: { listed: number; reencrypted: number; failed: number; alreadyCurrent?: number };
  migrateMs: number;
  /** PATCH requests rekey sent during the run (retries included). */
  patchesSent?: number;
  /** CPU seconds of the migration: rekey's runner, the apiservers, etcd (with BENCH_CPU_PIDS). */
  cpuSeconds?: CpuSeconds;
  /** Epoch ms of the first patch the apiserver accepted; absent when nothing was patched. */
  firstRewriteAt?: number;
  maxRssKb: number;
  /** Where the migration's wall-clock time went (test/bench/timeline.ts). */
  timelineMs?: TimelineMs;
  /** The adaptive rewrite concurrency: its last and highest value (absent when fixed). */
  concurrency?: { last?: number; max: number };
}

export interface RunnerHandle {
  /** Resolves once the runner has taken its first step (it is polling from then on). */
  ready: Promise<void>;
  done: Promise<RunnerResult>;
  /** Ends the runner early (the bench failed around it). */
  kill(): void;
}

/** The runner's environment for this sandbox: rekey's settings and a kubeconfig as `rekey`. */
export function runnerEnv(sb: TestSandbox): NodeJS.ProcessEnv {
  const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
  writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig(), { mode: 0o600 });
  return {
    ...process.env,
    ...rekeySettings(sb.env, { REKEY_BUDGET_SECONDS: '600' }),
    KUBECONFIG: kubeconfig,
    // the apiservers and etcd whose CPU the runner reads from /proc around its migration
    BENCH_CPU_PIDS: formatCpuPids(sb.env.processes),
  };
}

/** Starts a runner that migrates the first revision whose key_id is not `previousKeyId`. */
export function startRunner(env: NodeJS.ProcessEnv, previousKeyId?: string): RunnerHandle {
  const child = spawn(process.execPath, [...NODE_FLAGS, RUNNER], {
    env: previousKeyId ? { ...env, BENCH_PREVIOUS_KEY_ID: previousKeyId } : env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let onReady: () => void = () => {};
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const done = new Promise<RunnerResult>((resolve, reject) => {
    let result: RunnerResult | undefined;
    createInterface({ input: child.stdout }).on('line', (line) => {
      const msg = JSON.parse(line) as { ready?: true } & Partial<RunnerResult>;
      if (msg.ready) onReady();
      else result = msg as RunnerResult;
    });
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 && result ? resolve(result) : reject(new Error(`bench runner exited ${code}`)),
    );
  });
  // a runner that dies before its first step must not leave the caller waiting for "ready"
  return { ready: Promise.race([ready, done.then(() => {})]), done, kill: () => child.kill() };
}

/** Runs a runner to completion (the key already rotated and adopted). */
export function runRunner(env: NodeJS.ProcessEnv, previousKeyId?: string): Promise<RunnerResult> {
  return startRunner(env, previousKeyId).done;
}
