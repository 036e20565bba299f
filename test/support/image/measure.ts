// The image's figures for the README, measured, never asserted: its size (podman's), and how long
// a function takes from `podman run` to its first /readyz 200, beside the same function started
// as a local process (the difference is the container's cost). kms-event in delegate mode is
// used: its readiness asks no cluster, so no sandbox is needed.
//   node test/support/image/measure.ts [runs]     (after `npm run image`)
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_DIR } from '../infra/manifests.ts';
import { freePort } from '../sandbox/net.ts';
import { IMAGE } from './build.ts';
import { runContainer } from './container.ts';
import { podman } from './podman.ts';

const RUNS = Number(process.argv[2] ?? 5);
const dir = mkdtempSync(join(tmpdir(), 'rekey-measure-'));
chmodSync(dir, 0o755);
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    'current-context': 'c',
    contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
    users: [{ name: 'u', user: { token: 'not-used' } }],
  }),
  { mode: 0o644 },
);
const settings = (port: number) => ({
  PORT: String(port),
  REKEY_PROVIDER: 'measure',
  REKEY_STEP_MODE: 'delegate',
  K_SINK: 'http://127.0.0.1:9',
  KUBECONFIG: kubeconfig,
  LOG_LEVEL: 'warn',
});

async function inContainer(): Promise<number> {
  const port = await freePort();
  const started = Date.now();
  const c = runContainer(IMAGE, 'measure', {
    args: ['functions/kms-event/main.ts'],
    env: settings(port),
    mounts: [dir],
  });
  try {
    await c.untilOk(`http://127.0.0.1:${port}/readyz`);
    return Date.now() - started;
  } finally {
    c.stop();
  }
}

async function asProcess(): Promise<number> {
  const port = await freePort();
  const started = Date.now();
  const child = spawn(process.execPath, ['functions/kms-event/main.ts'], {
    cwd: REPO_DIR,
    env: { PATH: process.env.PATH, NODE_ENV: 'production', ...settings(port) },
    stdio: 'ignore',
  });
  try {
    for (;;) {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
      if (r?.status === 200) return Date.now() - started;
      if (child.exitCode !== null) throw new Error(`kms-event exited ${child.exitCode}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    child.kill('SIGTERM');
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

try {
  const size = Number(podman(['image', 'inspect', '--format', '{{.Size}}', IMAGE]).trim());
  const container: number[] = [];
  const local: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    container.push(await inContainer());
    local.push(await asProcess());
  }
  console.log(
    JSON.stringify({
      image: IMAGE,
      sizeMB: Math.round(size / 1e6),
      readyzMs: { container: median(container), process: median(local), runs: RUNS },
      samples: { container, process: local },
      loadavg1m: loadavg()[0]?.toFixed(1),
    }),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
