// The sandbox KMS v2 plugin as a real child process on a unix socket, driven by rekey's Status
// client and by a plain gRPC client built from the same proto (standing in for kube-apiserver).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import {
  type DecryptResponseWire,
  type EncryptResponseWire,
  kmsSocketTarget,
  kmsV2ServiceClient,
} from '../../shared/adapters/kms-plugin/proto.ts';
import {
  createKmsPluginClient,
  isHealthy,
  KmsPluginUnavailableError,
} from '../../shared/adapters/kms-plugin/status-client.ts';
import { rotate } from '../support/kms-plugin/keyring.ts';
import {
  KMS_PLUGIN_MAIN,
  type SpawnedKmsPlugin,
  spawnKmsPlugin,
} from '../support/kms-plugin/spawn.ts';

const execFileAsync = promisify(execFile);

type Unary<Req, Res> = (
  request: Req,
  options: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res?: Res) => void,
) => void;

/** What kube-apiserver does with the plugin besides Status. */
function apiserverLikeClient(socketPath: string) {
  const client = new (kmsV2ServiceClient())(
    kmsSocketTarget(socketPath),
    grpc.credentials.createInsecure(),
    {
      'grpc.default_authority': 'localhost',
    },
  );
  function call<Req, Res>(method: string, request: Req): Promise<Res> {
    const fn = client[method] as unknown as Unary<Req, Res>;
    return new Promise((resolve, reject) => {
      fn.call(client, request, { deadline: Date.now() + 3000 }, (err, res) =>
        err || !res ? reject(err ?? new Error('empty response')) : resolve(res),
      );
    });
  }
  return {
    encrypt: (plaintext: Buffer) =>
      call<object, EncryptResponseWire>('Encrypt', { plaintext, uid: 'test' }),
    decrypt: (sealed: EncryptResponseWire) =>
      call<object, DecryptResponseWire>('Decrypt', {
        ciphertext: sealed.ciphertext,
        key_id: sealed.key_id,
        annotations: sealed.annotations,
        uid: 'test',
      }).then((r) => r.plaintext),
    close: () => client.close(),
  };
}

describe('sandbox KMS v2 plugin over its unix socket', () => {
  let dir: string;
  let keyringDir: string;
  const running: SpawnedKmsPlugin[] = [];
  const closers: Array<() => void> = [];

  async function start(instance: string, socketName = `${instance}.sock`) {
    const socketPath = join(dir, socketName);
    const plugin = await spawnKmsPlugin({ socketPath, keyringDir, instance });
    running.push(plugin);
    const status = createKmsPluginClient({ socketPath });
    const kms = apiserverLikeClient(socketPath);
    closers.push(status.close, kms.close);
    return { plugin, socketPath, status, kms };
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rekey-kms-'));
    keyringDir = join(dir, 'keyring');
  });
  after(async () => {
    for (const close of closers) close();
    await Promise.all(running.map((p) => p.stop()));
    await rm(dir, { recursive: true, force: true });
  });

  it('serves Status, Encrypt and Decrypt; rotation is seen live and survives a restart', async () => {
    const seed = randomBytes(32);
    const first = await start('a');
    assert.equal(first.plugin.keyId, 'local-1');

    const status = await first.status.status();
    assert.deepEqual(status, { version: 'v2', healthz: 'ok', keyId: 'local-1' });
    assert.ok(isHealthy(status));

    const sealed1 = await first.kms.encrypt(seed);
    assert.equal(sealed1.key_id, status.keyId, 'Encrypt must return the key_id Status reports');
    assert.ok(sealed1.ciphertext.length <= 1024);
    assert.ok(!sealed1.ciphertext.includes(seed), 'ciphertext must not contain the seed');
    const annotationKeys = Object.keys(sealed1.annotations);
    assert.ok(annotationKeys.length > 0);
    for (const key of annotationKeys) assert.match(key, /^[a-z0-9-]+(\.[a-z0-9-]+)+$/);
    assert.deepEqual(await first.kms.decrypt(sealed1), seed);

    assert.equal(await rotate(keyringDir, ['a']), 'local-2');
    assert.equal((await first.status.status()).keyId, 'local-2', 'no restart needed');
    const sealed2 = await first.kms.encrypt(seed);
    assert.equal(sealed2.key_id, 'local-2');
    assert.deepEqual(await first.kms.decrypt(sealed1), seed, 'old key still decrypts');
    assert.deepEqual(await first.kms.decrypt(sealed2), seed);

    assert.equal(await first.plugin.stop(), 0, 'SIGTERM shuts down cleanly');
    await assert.rejects(stat(first.socketPath), { code: 'ENOENT' }, 'socket removed on shutdown');

    const second = await start('a');
    assert.equal(second.plugin.keyId, 'local-2');
    assert.equal((await second.status.status()).keyId, 'local-2');
    assert.deepEqual(await second.kms.decrypt(sealed1), seed);
    assert.deepEqual(await second.kms.decrypt(sealed2), seed);
  });

  it('rejects Decrypt under an unknown or mismatched key_id with a clear error', async () => {
    const { kms } = await start('c');
    const sealed = await kms.encrypt(randomBytes(32));
    await assert.rejects(
      kms.decrypt({ ...sealed, key_id: 'local-999' }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.NOT_FOUND);
        assert.match(err.details, /unknown key_id "local-999"/);
        return true;
      },
    );
    const other = sealed.key_id === 'local-1' ? 'local-2' : 'local-1';
    await assert.rejects(kms.decrypt({ ...sealed, key_id: other }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /does not decrypt under key_id/);
      return true;
    });
  });

  it('maps a dead socket to the transient KmsPluginUnavailableError', async () => {
    const client = createKmsPluginClient({ socketPath: join(dir, 'nobody.sock'), timeoutMs: 1000 });
    closers.push(client.close);
    await assert.rejects(client.status(), (err: unknown) => {
      assert.ok(err instanceof KmsPluginUnavailableError);
      assert.equal(err.name, 'KmsPluginUnavailableError');
      assert.equal(err.retryable, true);
      assert.equal(err.code, 'UNAVAILABLE');
      assert.ok(err.cause);
      return true;
    });
  });

  it('rotates two instances over one keyring independently', async () => {
    const x = await start('x');
    const y = await start('y');
    const k0 = (await x.status.status()).keyId;
    assert.equal((await y.status.status()).keyId, k0);
    const seed = randomBytes(32);
    const underK0 = await y.kms.encrypt(seed);

    const k1 = await rotate(keyringDir, ['x']);
    assert.notEqual(k1, k0);
    assert.equal((await x.status.status()).keyId, k1);
    assert.equal((await y.status.status()).keyId, k0, 'y keeps its key until rotated');
    assert.equal((await y.kms.encrypt(seed)).key_id, k0);
    const underK1 = await x.kms.encrypt(seed);
    assert.deepEqual(await y.kms.decrypt(underK1), seed, 'y decrypts what x wrote');

    assert.equal(await rotate(keyringDir, ['y']), k1, 'y joins x, no new key');
    assert.equal((await y.status.status()).keyId, k1);
    assert.deepEqual(await x.kms.decrypt(underK0), seed);
  });

  it('replaces a socket left behind by a crashed plugin, but not one a live plugin serves', async () => {
    const crashed = await start('s');
    crashed.plugin.child.kill('SIGKILL');
    await once(crashed.plugin.child, 'exit');
    assert.ok((await stat(crashed.socketPath)).isSocket(), 'SIGKILL leaves the socket file');

    const restarted = await start('s');
    assert.equal((await restarted.status.status()).healthz, 'ok');
    await assert.rejects(
      spawnKmsPlugin({
        socketPath: restarted.socketPath,
        keyringDir,
        instance: 's',
        stderr: 'ignore',
      }),
      { name: 'KmsPluginStartError' },
    );
    assert.equal((await restarted.status.status()).healthz, 'ok', 'the live plugin is untouched');
  });

  it('the rotate subcommand is safe when several processes rotate at once', async () => {
    await rotate(keyringDir, ['z']);
    const n = 4;
    const outputs = await Promise.all(
      Array.from({ length: n }, () =>
        execFileAsync(process.execPath, [
          KMS_PLUGIN_MAIN,
          'rotate',
          '--keyring',
          keyringDir,
          '--instance',
          'z',
        ]),
      ),
    );
    const ids = outputs.map(({ stdout }) => (JSON.parse(stdout) as { keyId: string }).keyId);
    assert.equal(new Set(ids).size, n, `each process created its own key: ${ids.join(', ')}`);
    const { stdout } = await execFileAsync(process.execPath, [
      KMS_PLUGIN_MAIN,
      'rotate',
      '--keyring',
      keyringDir,
      '--instance',
      'z',
    ]);
    const last = (JSON.parse(stdout) as { keyId: string }).keyId;
    const numbers = [...ids, last]
      .map((id) => Number(id.replace('local-', '')))
      .sort((a, b) => a - b);
    assert.deepEqual(
      numbers,
      Array.from({ length: n + 1 }, (_, i) => (numbers[0] ?? 0) + i),
      'no gaps, no reuse',
    );
  });
});
