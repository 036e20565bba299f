// The sandbox keyring's rotation semantics: per-instance pointers, ids never reused, persistence,
// and consistency when several keyring objects (or processes) advance at once.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { KeyringError, openKeyring, rotate } from '../../../support/kms-plugin/keyring.ts';

describe('sandbox KMS keyring', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rekey-keyring-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates local-1 once and points each instance at it', async () => {
    const keyring = openKeyring({ dir });
    assert.equal(await keyring.ensureInitialised('a'), 'local-1');
    assert.equal(await keyring.ensureInitialised('a'), 'local-1');
    assert.equal(await keyring.ensureInitialised('b'), 'local-1');
    assert.deepEqual(await keyring.keyIds(), ['local-1']);
    assert.equal(await keyring.current('a'), 'local-1');
    const key = await keyring.keyFor('local-1');
    assert.equal(key?.length, 32);
    assert.equal(await keyring.keyFor('local-9'), undefined);
  });

  it('advancing A creates K2; advancing B then joins K2 without creating K3', async () => {
    const keyring = openKeyring({ dir });
    await keyring.ensureInitialised('a');
    await keyring.ensureInitialised('b');

    assert.equal(await keyring.advance(['a']), 'local-2');
    assert.equal(await keyring.current('a'), 'local-2');
    assert.equal(await keyring.current('b'), 'local-1');

    assert.equal(await keyring.advance(['b']), 'local-2');
    assert.equal(await keyring.current('b'), 'local-2');
    assert.deepEqual(await keyring.keyIds(), ['local-1', 'local-2']);

    assert.equal(await keyring.advance(['a', 'b']), 'local-3');
    assert.equal(await keyring.current('a'), 'local-3');
    assert.equal(await keyring.current('b'), 'local-3');
  });

  it('never reuses an id and keeps every old key', async () => {
    const keyring = openKeyring({ dir });
    await keyring.ensureInitialised('a');
    const first = await keyring.keyFor('local-1');
    for (let i = 0; i < 5; i++) await keyring.advance(['a']);
    const ids = await keyring.keyIds();
    assert.deepEqual(ids, ['local-1', 'local-2', 'local-3', 'local-4', 'local-5', 'local-6']);
    const keys = await Promise.all(ids.map((id) => keyring.keyFor(id)));
    assert.equal(new Set(keys.map((k) => k?.toString('hex'))).size, ids.length);
    assert.deepEqual(await keyring.keyFor('local-1'), first);
  });

  it('persists keys and pointers: a fresh keyring object over the directory sees the same state', async () => {
    const before = openKeyring({ dir });
    await before.ensureInitialised('a');
    await before.ensureInitialised('b');
    await before.advance(['a']);
    const k2 = await before.keyFor('local-2');

    const after = openKeyring({ dir });
    assert.equal(await after.ensureInitialised('a'), 'local-2');
    assert.equal(await after.current('a'), 'local-2');
    assert.equal(await after.current('b'), 'local-1');
    assert.deepEqual(await after.keyFor('local-2'), k2);
    assert.equal(await rotate(dir, ['a']), 'local-3');
  });

  it('a rotation by another keyring object is seen by current() without reopening', async () => {
    const plugin = openKeyring({ dir });
    await plugin.ensureInitialised('a');
    assert.equal(await plugin.current('a'), 'local-1');
    await rotate(dir, ['a']);
    assert.equal(await plugin.current('a'), 'local-2');
    assert.equal((await plugin.keyFor('local-2'))?.length, 32);
  });

  it('concurrent advances of different instances converge on one new key', async () => {
    await openKeyring({ dir }).ensureInitialised('a');
    await openKeyring({ dir }).ensureInitialised('b');
    const results = await Promise.all([
      openKeyring({ dir }).advance(['a']),
      openKeyring({ dir }).advance(['b']),
    ]);
    assert.deepEqual(results, ['local-2', 'local-2']);
    const keyring = openKeyring({ dir });
    assert.deepEqual(await keyring.keyIds(), ['local-1', 'local-2']);
  });

  it('concurrent advances of the same instance each create exactly one key', async () => {
    await openKeyring({ dir }).ensureInitialised('a');
    const n = 8;
    const results = await Promise.all(
      Array.from({ length: n }, () => openKeyring({ dir }).advance(['a'])),
    );
    const expected = Array.from({ length: n + 1 }, (_, i) => `local-${i + 1}`);
    assert.deepEqual(await openKeyring({ dir }).keyIds(), expected);
    assert.deepEqual([...results].sort(), expected.slice(1).sort());
    assert.equal(await openKeyring({ dir }).current('a'), `local-${n + 1}`);
    const raw = JSON.parse(await readFile(join(dir, 'keys.json'), 'utf8')) as unknown[];
    assert.equal(raw.length, n + 1);
  });

  it('takes over a lock left behind by a dead process', async () => {
    const keyring = openKeyring({ dir, lockTimeoutMs: 1000 });
    await keyring.ensureInitialised('a');
    // PIDs are capped well below this on Linux, so no live process owns it.
    await writeFile(join(dir, 'keyring.lock'), '2147483646');
    assert.equal(await keyring.advance(['a']), 'local-2');
  });

  it('times out on a lock held by a live process', async () => {
    const keyring = openKeyring({ dir, lockTimeoutMs: 100 });
    await keyring.ensureInitialised('a');
    await writeFile(join(dir, 'keyring.lock'), String(process.pid));
    await assert.rejects(keyring.advance(['a']), { name: 'KeyringError', message: /timed out/ });
  });

  it('rejects instance names that could escape the directory, and unknown instances', async () => {
    const keyring = openKeyring({ dir });
    await keyring.ensureInitialised('a');
    assert.throws(() => keyring.advance(['../x']), KeyringError);
    await assert.rejects(keyring.current('nobody'), {
      name: 'KeyringError',
      message: /no current key/,
    });
  });
});
