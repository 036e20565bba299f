// The rotator of a Vault / OpenBao transit key: rotates on the server and answers the new latest
// version (the key_id plugins report); a sealed or unreachable server is a retryable failure, so
// the webhook's `rotate` answers 503 rather than 422.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKmsRotator } from '../../../shared/adapters/kms-rotator.ts';
import { isRetryable } from '../../../shared/ports/retryable.ts';
import { type FakeVault, startFakeVault } from '../../support/unit/fake-vault.ts';

const TOKEN = 'rotator-test-token';

describe('createKmsRotator: Vault transit', () => {
  let vault: FakeVault;
  let tokenFile: string;

  before(async () => {
    vault = await startFakeVault({ token: TOKEN, mount: 'team/transit', name: 'etcd' });
    tokenFile = join(mkdtempSync(join(tmpdir(), 'rekey-rotator-')), 'token');
    writeFileSync(tokenFile, TOKEN);
  });
  after(() => vault.close());

  it('rotates the transit key and answers its new latest version', async () => {
    const rotator = createKmsRotator({
      key: 'team/transit/keys/etcd',
      vault: { address: vault.address, tokenFile },
    });
    assert.equal(rotator?.describe, 'vault-transit team/transit/keys/etcd');
    assert.deepEqual(await rotator?.rotate(), { key: 'team/transit/keys/etcd', current: '2' });
    assert.equal(vault.latest, 2);
  });

  it('a sealed server is a retryable failure', async () => {
    const rotator = createKmsRotator({
      key: 'team/transit/keys/etcd',
      vault: { address: vault.address, tokenFile },
    });
    vault.failWith = { status: 503 };
    try {
      const e = await rotator?.rotate().catch((err: unknown) => err);
      assert.ok(isRetryable(e));
    } finally {
      vault.failWith = undefined;
    }
  });

  it('without the server settings there is no rotator for a transit key', () => {
    assert.equal(createKmsRotator({ key: 'transit/keys/kms' }), undefined);
  });
});
