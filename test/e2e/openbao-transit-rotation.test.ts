// End to end with a Vault-compatible KMS: `--kms openbao` puts a real OpenBao dev server's transit
// key behind the sandbox plugins, which report the key's latest version as the key_id, as the Vault
// KMS plugins people run do. A rotation made on the server (not by rekey) changes the key_id with
// no restart; `rekey migrate` moves every object to the new version, proven from etcd, and the old
// version then retires. `rekey rotate` rotates the transit key itself, and a min_decryption_version
// raised above a version still in etcd is reported by `rekey keys` as a key danger.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createVaultTransit } from '../../shared/adapters/vault-transit/client.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { setMinDecryptionVersion } from '../support/openbao/server.ts';
import { type RekeyUnderTest, rekeyFor, rekeySettings } from '../support/rekey-fixture.ts';
import { waitForKeyId } from '../support/sandbox/key-status.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';
import { waitForObservation } from '../support/settle.ts';

const CLI = fileURLToPath(new URL('../../functions/cli/main.ts', import.meta.url));

describe('e2e: a Vault transit key rotated on an OpenBao server', () => {
  let sb: TestSandbox;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  let cliEnv: Record<string, string>;
  let server: { address: string; tokenFile: string; key: string };

  /** The rekey CLI as an operator runs it: its own process, rekey's own credentials. */
  function cli(...args: string[]): { code: number | null; out: string } {
    const r = spawnSync(process.execPath, [CLI, ...args], {
      env: { ...process.env, ...cliEnv },
      encoding: 'utf8',
      timeout: 300_000,
    });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  }

  const keyIdsInEtcd = async () => (await etcdSummary(sb.env)).rows.map((r) => r.keyID);

  before(async () => {
    sb = await startSandbox({ kms: 'openbao' });
    const b = sb.env.kms.backend;
    assert.ok(b?.kind === 'transit' && b.tokenFile, 'the plugins wrap with the transit key');
    server = { address: b.endpoint, tokenFile: b.tokenFile, key: b.key };
    const vault = {
      REKEY_KMS_KEY: server.key,
      REKEY_VAULT_ADDR: server.address,
      REKEY_VAULT_TOKEN_FILE: server.tokenFile,
    };
    seeded = await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 50, prefix: 'bao' });
    rekey = rekeyFor(sb.env, vault);
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    cliEnv = { ...rekeySettings(sb.env, vault), KUBECONFIG: kubeconfig };
  });
  after(async () => {
    rekey?.close();
    await sb?.stop();
  });

  it('moves every object to the new version after a rotation on the server; the old one retires', async () => {
    const baseline = cli('migrate', '--timeout', '240s');
    assert.equal(baseline.code, 0, baseline.out);
    assert.deepEqual(await keyIdsInEtcd(), ['1'], 'written under version 1 of the transit key');

    // the rotation happens on the server, as an operator or auto_rotate_period would make it
    const transit = createVaultTransit({ address: server.address, tokenFile: server.tokenFile });
    assert.equal((await transit.rotate(server.key)).latestVersion, 2);
    await waitForKeyId('2', { dir: sb.dir });
    await waitForObservation(rekey, '2', 60_000);
    assert.equal(
      cli('keys', '--retire', '1').code,
      1,
      'version 1 is still needed before the migration',
    );

    const migrated = cli('migrate', '--timeout', '240s');
    assert.equal(migrated.code, 0, migrated.out);
    assert.deepEqual(await keyIdsInEtcd(), ['2'], 'every secret is under version 2 in etcd');
    const api = coreApi(sb.env);
    for (const s of seeded.slice(0, 20)) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      assert.equal(now.data?.value, s.value, 'data intact');
    }
    const retire = cli('keys', '--retire', '1');
    assert.equal(retire.code, 0, retire.out);
  });

  it('`rekey rotate` makes a new version; raising min_decryption_version past etcd is a key danger', async () => {
    const rotated = cli('rotate', '--output', 'json');
    assert.equal(rotated.code, 0, rotated.out);
    assert.deepEqual(JSON.parse(rotated.out.trim().split('\n')[0] ?? ''), {
      key: server.key,
      current: '3',
    });
    const transit = createVaultTransit({ address: server.address, tokenFile: server.tokenFile });
    assert.equal((await transit.readKey(server.key)).latestVersion, 3);

    // nothing migrated to version 3 yet: etcd still holds version 2
    const clean = cli('keys');
    assert.equal(clean.code, 0, clean.out);
    assert.match(clean.out, /every version in etcd can be decrypted/);

    await setMinDecryptionVersion(server, 3);
    const danger = cli('keys');
    assert.equal(danger.code, 1, danger.out);
    assert.match(
      danger.out,
      /DANGER: transit\/keys\/kms: min_decryption_version is 3, so version 2 \(\d+ object\(s\)\)/,
    );
    assert.doesNotMatch(danger.out, /version 1 \(/, 'version 1 is gone from etcd: not named');
    const stored = await rekey.deps.store.list(sb.env.kms.providerName);
    const newest = stored.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
    assert.match(newest?.keyDanger?.what ?? '', /version 2 /, 'noted on the newest revision');
  });
});
