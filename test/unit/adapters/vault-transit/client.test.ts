// The Vault / OpenBao transit adapter against an in-process stand-in of the HTTP API: the token is
// read from its file and sent only as X-Vault-Token; failures say whether a retry may help and
// never carry the token; rotate answers the key's state afterwards.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVaultTransit } from '../../../../shared/adapters/vault-transit/client.ts';
import { ConfigError } from '../../../../shared/config/config.ts';
import { isRetryable, retryAfterOf } from '../../../../shared/ports/retryable.ts';
import { type FakeVault, startFakeVault } from '../../../support/unit/fake-vault.ts';

const TOKEN = 's.unit-test-token-0123456789';
const KEY = 'transit/keys/kms';

describe('vault transit adapter', () => {
  let vault: FakeVault;
  let tokenFile: string;

  before(async () => {
    vault = await startFakeVault({ token: TOKEN });
    tokenFile = join(mkdtempSync(join(tmpdir(), 'rekey-vault-')), 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`);
  });
  after(() => vault.close());

  const client = () => createVaultTransit({ address: vault.address, tokenFile });

  it('reads the key and rotates it, sending the token from its file', async () => {
    vault.failWith = undefined;
    const t = client();
    assert.deepEqual(await t.readKey(KEY), { latestVersion: 1, minDecryptionVersion: 1 });
    assert.deepEqual(await t.rotate(KEY), { latestVersion: 2, minDecryptionVersion: 1 });
    assert.deepEqual(
      vault.seen.slice(-2).map((s) => [s.method, s.path, s.token]),
      [
        ['GET', KEY, TOKEN],
        ['POST', `${KEY}/rotate`, TOKEN],
      ],
    );
  });

  it('encrypts under the latest version and decrypts by the version in the ciphertext', async () => {
    vault.failWith = undefined;
    const t = client();
    const e = await t.encrypt(KEY, Buffer.from('seed'));
    assert.equal(e.version, vault.latest);
    assert.match(e.ciphertext, new RegExp(`^vault:v${vault.latest}:`));
    assert.equal((await t.decrypt(KEY, e.ciphertext)).toString(), 'seed');
  });

  it('a 503 (sealed, down) is retryable with its Retry-After; a 403 is not; neither names the token', async () => {
    const t = client();
    vault.failWith = { status: 503, retryAfter: '7' };
    const sealed = await t.rotate(KEY).catch((e: unknown) => e);
    assert.ok(sealed instanceof Error);
    assert.ok(isRetryable(sealed));
    assert.equal(retryAfterOf(sealed), 7);
    assert.match(
      (sealed as Error).message,
      /rotate transit\/keys\/kms: HTTP 503: injected failure/,
    );
    vault.failWith = undefined;
    writeFileSync(tokenFile, 'not-the-token');
    try {
      const denied = await t.readKey(KEY).catch((e: unknown) => e);
      assert.equal(isRetryable(denied), false);
      assert.match((denied as Error).message, /HTTP 403: permission denied/);
      for (const e of [sealed, denied]) {
        assert.doesNotMatch(
          `${(e as Error).message} ${JSON.stringify(e)}`,
          /unit-test-token|not-the-token/,
        );
      }
    } finally {
      writeFileSync(tokenFile, TOKEN);
    }
  });

  it('no answer at all is retryable and names the address', async () => {
    const t = createVaultTransit({ address: 'http://127.0.0.1:1', tokenFile });
    const e = await t.readKey(KEY).catch((err: unknown) => err);
    assert.ok(e instanceof Error);
    assert.ok(isRetryable(e));
    assert.match((e as Error).message, /no answer from http:\/\/127\.0\.0\.1:1/);
  });

  it('an unreadable token file is a ConfigError naming the file, not a crash', async () => {
    const t = createVaultTransit({ address: vault.address, tokenFile: '/nonexistent/token' });
    await assert.rejects(t.readKey(KEY), (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /\/nonexistent\/token cannot be read: ENOENT/);
      return true;
    });
  });

  it('refuses a key that is not a transit key path before sending anything', async () => {
    const before1 = vault.seen.length;
    await assert.rejects(client().readKey('arn:aws:kms:us-west-2:1:key/x'), ConfigError);
    assert.equal(vault.seen.length, before1);
  });
});
