// A runner killed mid-way (SIGKILL) leaves a checkpoint the next one resumes from, and two
// runners started together never work the same provider at once (the Lease), using the CLI.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
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

  it('two runners started at once: one works, the other waits, both end Completed', async () => {
    const k3 = await rotateAndWaitForReport();
    const a = runCli(cliEnv, ['reconcile', '--until-complete']);
    const b = runCli(cliEnv, ['reconcile', '--until-complete']);
    const [ea, eb] = await Promise.all([a.exit, b.exit]);
    assert.equal(ea, 0, a.out.join(''));
    assert.equal(eb, 0, b.out.join(''));
    const outputs = [a.out.join(''), b.out.join('')];
    assert.ok(
      outputs.some((o) => /busy: another runner/.test(o)),
      `one runner waited:\n${outputs.join('\n---\n')}`,
    );
    const done = await newest();
    assert.equal(done?.keyIdHash, keyIdHash(k3));
    assert.equal(done?.phase, 'Completed');
    assert.equal(done?.verification?.clean, true);
  });
});
