// A runner killed mid-way (SIGKILL, the CLI) leaves a checkpoint the next one resumes from, and
// two runners started together never work the same provider at once (the Lease): each runner's
// patches and Lease holdings are timed from its own REST client, and no window of one overlaps
// a window of the other.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { reconcileCommand } from '../../functions/cli/reconcile.ts';
import { composeApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import type { ReconcileDeps } from '../../shared/core/deps.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { connection, coreApi, kubeConfig } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));

interface Run {
  child: ChildProcess;
  out: string[];
  exit: Promise<number | null>;
}

/** A span of time one runner spent on something (a patch in flight, the Lease held). */
interface Window {
  runner: string;
  what: string;
  start: number;
  end: number;
}

/** The first window of one runner that overlaps a window of another runner, if any. */
function overlap(windows: readonly Window[]): [Window, Window] | undefined {
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  // for each window, the one of another runner that started before it and ends last
  const latest = new Map<string, Window>();
  for (const w of sorted) {
    for (const [runner, v] of latest) {
      if (runner !== w.runner && v.end > w.start) return [v, w];
    }
    const mine = latest.get(w.runner);
    if (!mine || w.end > mine.end) latest.set(w.runner, w);
  }
  return undefined;
}

function runCli(env: Record<string, string>, args: string[]): Run {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: string[] = [];
  child.stdout?.on('data', (d: Buffer) => out.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => out.push(d.toString()));
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  return { child, out, exit };
}

describe('rekey: resume after SIGKILL, and one runner per provider', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let cliEnv: Record<string, string>;
  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 6, perNamespace: 100, prefix: 'resume' });
    rekey = rekeyFor(sb.env);
    await untilSettled(rekey, 120_000);
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    cliEnv = {
      ...rekeySettings(sb.env, {
        REKEY_PAGE_SIZE: '25',
        REKEY_CONCURRENCY: '2',
        REKEY_BUDGET_SECONDS: '10',
      }),
      KUBECONFIG: kubeconfig,
    };
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  async function newest() {
    const all = await rekey.deps.store.list(sb.env.kms.providerName);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  }

  async function rotateAndWaitForReport(): Promise<string> {
    const k = await rotate({ dir: sb.dir });
    await waitForKeyId(k, { dir: sb.dir });
    await waitForObservation(rekey, k);
    return k;
  }

  it('a runner killed mid-migration is resumed from its checkpoint, nothing skipped', async (t) => {
    const k2 = await rotateAndWaitForReport();
    const first = runCli(cliEnv, ['reconcile', '--until-complete']);
    let listedAtKill = 0;
    const deadline = Date.now() + 120_000;
    while (Date.now() < deadline) {
      const r = await newest();
      const listed =
        r && r.keyIdHash === keyIdHash(k2) ? summariseProgress(r.progress).counts.listed : 0;
      if (listed >= 100) {
        first.child.kill('SIGKILL');
        listedAtKill = listed;
        break;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(listedAtKill >= 100, `killed after ${listedAtKill} listed: ${first.out.join('')}`);
    await first.exit;
    const killed = await newest();
    assert.equal(killed?.phase, 'Migrating');
    assert.ok(
      killed?.progress.resources.some((c) => c.continueToken),
      'a continue token was checkpointed',
    );

    const second = runCli(cliEnv, ['reconcile', '--until-complete']);
    assert.equal(await second.exit, 0, second.out.join(''));
    const done = await newest();
    assert.equal(done?.phase, 'Completed');
    assert.equal(done?.verification?.clean, true);
    const counts = done ? summariseProgress(done.progress).counts : undefined;
    assert.ok((counts?.listed ?? 0) >= 600, `listed ${counts?.listed}`);
    t.diagnostic(
      `killed after ${listedAtKill} listed; resumed and completed with ${JSON.stringify(counts)}`,
    );
    for (let n = 0; n < 6; n++) {
      const keys = await keyIdsInEtcd(sb.env, `resume-${n}`);
      assert.equal(keys.size, 100);
      assert.ok(
        [...keys.values()].every((k) => k === k2),
        `resume-${n} all under ${k2}`,
      );
    }
  });

  it('two runners started at once never patch in the same time window; both end Completed', async (t) => {
    const k3 = await rotateAndWaitForReport();
    const windows: Window[] = [];
    const acquisitions: { runner: string; acquired: boolean }[] = [];
    const runner = (name: string) => {
      const app = composeApp(loadConfig({ ...cliEnv, REKEY_HOLDER: name }), {
        connection: connection(sb.env, { user: 'rekey' }),
        // the calls that touch users' objects, timed on this runner's own client
        wrapRest: (rest) => ({
          async request(req) {
            const start = performance.now();
            const res = await rest.request(req);
            if (req.method === 'PATCH') {
              windows.push({ runner: name, what: 'patch', start, end: performance.now() });
            }
            return res;
          },
          close: () => rest.close(),
        }),
      });
      // the Lease as this runner held it: from a won acquisition to the start of its release
      let heldSince: number | undefined;
      const lock: ReconcileDeps['lock'] = {
        async tryAcquire(...args) {
          const r = await app.deps.lock.tryAcquire(...args);
          acquisitions.push({ runner: name, acquired: r.acquired });
          if (r.acquired) heldSince = performance.now();
          return r;
        },
        renew: (...args) => app.deps.lock.renew(...args),
        async release(h) {
          if (heldSince !== undefined) {
            windows.push({ runner: name, what: 'lease', start: heldSince, end: performance.now() });
            heldSince = undefined;
          }
          return app.deps.lock.release(h);
        },
      };
      return { app, deps: { ...app.deps, lock } };
    };
    const a = runner('runner-a');
    const b = runner('runner-b');
    let exits: number[];
    try {
      const run = (r: typeof a) =>
        reconcileCommand(r.deps, r.app.reconcile, {
          format: 'json',
          untilComplete: true,
          pollMs: 250,
          timeoutMs: 600_000,
        });
      exits = await Promise.all([run(a), run(b)]);
    } finally {
      a.app.close();
      b.app.close();
    }
    const patches = windows.filter((w) => w.what === 'patch');
    const by = (r: string) => patches.filter((w) => w.runner === r).length;
    t.diagnostic(
      `patches: runner-a ${by('runner-a')}, runner-b ${by('runner-b')}; acquisitions: ${acquisitions
        .map((x) => `${x.runner.slice(-1)}${x.acquired ? '+' : '-'}`)
        .join(' ')}`,
    );
    const clash = overlap(windows);
    assert.equal(clash, undefined, `two runners worked at once: ${JSON.stringify(clash)}`);
    assert.ok(patches.length >= 600, `the migration patched every object: ${patches.length}`);
    assert.ok(
      acquisitions.some((x) => !x.acquired),
      'one runner found the Lease taken at least once',
    );
    assert.deepEqual(exits, [0, 0], 'both end on a verified completion');
    const done = await newest();
    assert.equal(done?.keyIdHash, keyIdHash(k3));
    assert.equal(done?.phase, 'Completed');
    assert.equal(done?.verification?.clean, true);
  });
});
