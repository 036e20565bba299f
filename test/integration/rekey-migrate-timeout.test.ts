// `rekey migrate --timeout` never turns a wait into success: with two apiservers and one of them
// kept on the old key, the migration cannot start (the gate holds), and `rekey migrate --timeout
// 20s` gives up with exit code 3, saying it did not finish, while nothing was rewritten.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { keyIdsInEtcd } from '../support/etcd-keys.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedSecrets } from '../support/secrets.ts';
import { untilSettled, waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));
const NS = 'timeout';

describe('rekey migrate --timeout with one apiserver kept on the old key', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let cliEnv: Record<string, string>;
  let k1 = '';
  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
    await seedSecrets(coreApi(sb.env), NS, { count: 10 });
    rekey = rekeyFor(sb.env);
    const baseline = (await untilSettled(rekey, 180_000)).at(-1);
    assert.ok(
      baseline?.kind === 'step' && baseline.phase === 'Completed',
      JSON.stringify(baseline),
    );
    k1 = [...(await keyIdsInEtcd(sb.env, NS)).values()][0] ?? '';
    assert.match(k1, /^local-/);
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(sb.env), KUBECONFIG: kubeconfig };
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('exits 3 after 20 s, never 0, and rewrites nothing', async () => {
    const k2 = await rotate({ dir: sb.dir, only: [0] });
    await waitForKeyId(k2, { dir: sb.dir, only: [0] });
    await waitForObservation(rekey, k2);
    const began = Date.now();
    const r = spawnSync(
      process.execPath,
      [CLI, 'migrate', '--timeout', '20s', '--output', 'json'],
      {
        env: { ...process.env, ...cliEnv },
        encoding: 'utf8',
        timeout: 240_000,
      },
    );
    const out = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 3, out);
    assert.ok(Date.now() - began >= 20_000, 'it waited its --timeout');
    const json = JSON.parse(r.stdout) as { verdict: { exitCode: number }; last: { phase: string } };
    assert.equal(json.verdict.exitCode, 3);
    assert.equal(json.last.phase, 'Converging', out);
    // the gate held: every secret is still under K1
    const now = await keyIdsInEtcd(sb.env, NS);
    assert.equal(now.size, 10);
    for (const [name, keyId] of now) assert.equal(keyId, k1, `${name} untouched`);
  });
});
