// `rekey serve` as a child process against a sandbox, as rekey's least-privilege identity, with a
// broker stand-in as K_SINK that routes continuation events back to /reconcile (as Knative would).
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Broker, deliver, startBroker } from './knative-broker.ts';
import { kubeConfig } from './kube.ts';
import { rekeySettings } from './rekey-fixture.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';
import { freePort, waitFor } from './sandbox/net.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
export const PING = {
  type: 'dev.knative.sources.ping',
  source: '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick',
  data: {},
};

export interface ServedRekey {
  base: string;
  broker: Broker;
  /** What the server printed (for failure messages). */
  output(): string;
  /** Delivers PingSource ticks every 2 s until `done()` holds. */
  tickUntil(done: () => Promise<boolean>, limitMs: number): Promise<void>;
  stop(): Promise<void>;
}

export async function serveRekey(
  env: SandboxEnv,
  dir: string,
  settings: Record<string, string> = {},
): Promise<ServedRekey> {
  const routes: Record<string, string> = {};
  const broker = await startBroker(routes);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  routes['dev.rekey.migration.slice'] = `${base}/reconcile`;
  const kubeconfig = join(dir, 'kubeconfig-rekey');
  writeFileSync(kubeconfig, kubeConfig(env, { user: 'rekey' }).exportConfig());
  const child: ChildProcess = spawn(process.execPath, [CLI, 'serve', '--port', String(port)], {
    env: {
      ...process.env,
      // small slices, so that a migration of a few hundred objects spans several steps and the
      // continuation events are exercised
      ...rekeySettings(env, {
        REKEY_BUDGET_SECONDS: '1',
        REKEY_PAGE_SIZE: '10',
        REKEY_CONCURRENCY: '2',
      }),
      KUBECONFIG: kubeconfig,
      K_SINK: broker.url,
      LOG_LEVEL: 'warn',
      // reachable from this machine only, and the tests send no Knative tokens
      REKEY_KMS_EVENT_PRIVATE: 'true',
      ...settings,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
  await waitFor('rekey serve /healthz', async () =>
    (await fetch(`${base}/healthz`).catch(() => undefined))?.ok ? true : undefined,
  );
  const output = () => out.join('').slice(-3000);
  return {
    base,
    broker,
    output,
    async tickUntil(done, limitMs) {
      const deadline = Date.now() + limitMs;
      while (!(await done())) {
        if (Date.now() > deadline)
          throw new Error(`not done in ${limitMs / 1000} s; serve said:\n${output()}`);
        const r = await deliver(`${base}/reconcile`, PING);
        if (r.status !== 200) throw new Error(`tick answered ${r.status}: ${r.body}\n${output()}`);
        await new Promise((res) => setTimeout(res, 2000));
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await broker.close();
    },
  };
}
