// The sandbox keyring's rollback (`sandbox rotate --to`): instances point back at an earlier key,
// no key is created, and an unknown key_id is refused.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import {
  KeyringError,
  openKeyring,
  rotate,
  rotateTo,
} from '../../../support/kms-plugin/keyring.ts';

describe('sandbox KMS keyring rollback', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rekey-keyring-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('K1 -> K2 -> K1: the pointer goes back and no key is created', async () => {
    const keyring = openKeyring({ dir });
    await keyring.ensureInitialised('a');
    await keyring.ensureInitialised('b');
    assert.equal(await rotate(dir, ['a', 'b']), 'local-2');
    assert.equal(await rotateTo(dir, ['a'], 'local-1'), 'local-1');
    // a fresh keyring object, as the plugin process sees it
    const seen = openKeyring({ dir });
    assert.equal(await seen.current('a'), 'local-1');
    assert.equal(await seen.current('b'), 'local-2', 'only the given instance moved');
    assert.deepEqual(await seen.keyIds(), ['local-1', 'local-2']);
  });

  it('refuses an unknown key_id, naming the known ones, and moves nothing', async () => {
    const keyring = openKeyring({ dir });
    await keyring.ensureInitialised('a');
    await assert.rejects(
      rotateTo(dir, ['a'], 'local-7'),
      (err: unknown) =>
        err instanceof KeyringError && /unknown key_id "local-7".*local-1/.test(err.message),
    );
    assert.equal(await keyring.current('a'), 'local-1');
  });
});
