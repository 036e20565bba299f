// The sandbox plugin's transit backend, as the Vault KMS plugins behave: key_id = the transit key's
// latest version, Encrypt reports the version the server used, Decrypt goes by the version in the
// ciphertext, refuses a key_id that names another, and fails once the server refuses the version.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createVaultTransit } from '../../../../shared/adapters/vault-transit/client.ts';
import { BackendError } from '../../../support/kms-plugin/backends/backend.ts';
import { transitBackend } from '../../../support/kms-plugin/backends/transit-backend.ts';
import { type FakeVault, startFakeVault } from '../../../support/unit/fake-vault.ts';

const TOKEN = 'plugin-test-token';
const KEY = 'transit/keys/kms';

describe('transit plugin backend', () => {
  let vault: FakeVault;
  let backend: ReturnType<typeof transitBackend>;

  before(async () => {
    vault = await startFakeVault({ token: TOKEN });
    const tokenFile = join(mkdtempSync(join(tmpdir(), 'rekey-transit-')), 'token');
    writeFileSync(tokenFile, TOKEN);
    backend = transitBackend(createVaultTransit({ address: vault.address, tokenFile }), KEY);
  });
  after(() => vault.close());

  it('reports the latest version as the key_id, and a rotation changes it', async () => {
    assert.equal(await backend.current(), '1');
    const one = await backend.encrypt(Buffer.from('seed-1'));
    assert.equal(one.keyId, '1');
    vault.latest = 2; // a rotation on the server
    assert.equal(await backend.current(), '2');
    const two = await backend.encrypt(Buffer.from('seed-2'));
    assert.equal(two.keyId, '2');
    assert.match(two.ciphertext.toString(), /^vault:v2:/);
    // the old version still decrypts by the version its ciphertext names
    const back = await backend.decrypt({ keyId: '1', ciphertext: one.ciphertext, annotations: {} });
    assert.equal(back.toString(), 'seed-1');
  });

  it('refuses a key_id that does not name the ciphertext version', async () => {
    const c = await backend.encrypt(Buffer.from('x'));
    await assert.rejects(
      backend.decrypt({ keyId: '7', ciphertext: c.ciphertext, annotations: {} }),
      (e: unknown) => e instanceof BackendError && e.kind === 'invalid',
    );
  });

  it('cannot decrypt a version below min_decryption_version', async () => {
    vault.latest = 3;
    const old = Buffer.from('vault:v1:eA==');
    vault.minDecryption = 2;
    await assert.rejects(
      backend.decrypt({ keyId: '1', ciphertext: old, annotations: {} }),
      /disallowed by policy \(too old\)/,
    );
  });
});
