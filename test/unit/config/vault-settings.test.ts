// Vault / OpenBao transit settings: REKEY_KMS_KEY as `<mount>/keys/<name>` needs the server and a
// token file, refused at start-up otherwise; composed, it gets a rotator and a key reader.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Connection } from '../../../shared/adapters/k8s/connection.ts';
import { composeApp } from '../../../shared/app/compose.ts';
import { ConfigError, loadConfig } from '../../../shared/config/config.ts';

const connection: Connection = { server: 'https://127.0.0.1:1', authorize: async () => {} };
const base = { REKEY_PROVIDER: 'vault', REKEY_KMS_KEY: 'transit/keys/kms' };

describe('Vault transit settings', () => {
  it('refuses a transit key without REKEY_VAULT_ADDR and REKEY_VAULT_TOKEN_FILE', () => {
    for (const partial of [
      {},
      { REKEY_VAULT_ADDR: 'https://vault:8200' },
      { REKEY_VAULT_TOKEN_FILE: '/t' },
    ]) {
      assert.throws(
        () => loadConfig({ ...base, ...partial }),
        (e: unknown) =>
          e instanceof ConfigError &&
          /REKEY_KMS_KEY: a Vault transit key \(<mount>\/keys\/<name>\) needs REKEY_VAULT_ADDR and REKEY_VAULT_TOKEN_FILE/.test(
            e.message,
          ),
      );
    }
  });

  it('rejects a Vault address that is not an http(s) URL', () => {
    assert.throws(
      () => loadConfig({ ...base, REKEY_VAULT_ADDR: 'vault:8200', REKEY_VAULT_TOKEN_FILE: '/t' }),
      /REKEY_VAULT_ADDR: must be an http or https URL/,
    );
  });

  it('composes a transit rotator and key reader; other keys get no reader', () => {
    const rekey = composeApp(
      loadConfig({ ...base, REKEY_VAULT_ADDR: 'https://vault:8200', REKEY_VAULT_TOKEN_FILE: '/t' }),
      { connection },
    );
    try {
      assert.equal(rekey.rotator?.describe, 'vault-transit transit/keys/kms');
      assert.equal(rekey.transitKey?.key, 'transit/keys/kms');
    } finally {
      rekey.close();
    }
    const gcp = composeApp(
      loadConfig({
        REKEY_PROVIDER: 'p',
        REKEY_KMS_KEY: 'projects/p/locations/l/keyRings/r/cryptoKeys/k',
      }),
      { connection },
    );
    assert.equal(gcp.transitKey, undefined);
    gcp.close();
  });
});
