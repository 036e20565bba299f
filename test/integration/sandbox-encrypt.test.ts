// The sandbox's `up --encrypt` and `rotate --to` on a real control plane: the EncryptionConfiguration
// covers exactly the listed resources (a custom one gets its CRD), etcd shows it per object, the
// reporters are told where the configuration is, and a rollback makes the apiserver report the
// first key_id again.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { Etcd3 } from 'etcd3';
import { classifyValue } from '../../shared/domain/encrypted-value.ts';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { PROVIDER_NAME, rotate, status, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const ENCRYPT = ['secrets', 'configmaps', 'widgets.example.com'];
const NS = 'enc';
const KMS_PREFIX = `k8s:enc:kms:v2:${PROVIDER_NAME}:`;

describe('sandbox up --encrypt and rotate --to', () => {
  let sb: TestSandbox;
  let etcd: Etcd3;
  before(async () => {
    sb = await startSandbox({ encrypt: ENCRYPT });
    etcd = new Etcd3({ hosts: sb.env.etcd.url });
  });
  after(async () => {
    etcd?.close();
    await sb?.stop();
  });

  /** An object's raw etcd value: the ciphertext (or protobuf) is only ever inspected, never shown. */
  async function stored(key: string): Promise<Buffer> {
    const value = await etcd.get(`${sb.env.etcd.prefix}${key}`).buffer();
    assert.ok(value, `${key} is in etcd`);
    return value;
  }
  /** The first bytes of an object's etcd value, enough to see its encryption prefix. */
  async function storedHead(key: string): Promise<string> {
    return (await stored(key)).subarray(0, KMS_PREFIX.length).toString('latin1');
  }

  it('records the list, writes it into each EncryptionConfiguration and tells the reporters', () => {
    assert.deepEqual(sb.env.encrypt, ENCRYPT);
    for (const a of sb.env.apiservers) {
      const config = JSON.parse(readFileSync(a.encryptionConfig, 'utf8'));
      assert.deepEqual(config.resources[0].resources, ENCRYPT);
      const reporter = sb.env.processes.find((p) => p.name === `key-id-reporter-${a.hostname}`);
      assert.ok(reporter, `a key-id reporter runs for ${a.name}`);
      const environ = readFileSync(`/proc/${reporter.pid}/environ`, 'utf8').split('\0');
      assert.ok(environ.includes(`ENCRYPTION_CONFIG_FILE=${a.encryptionConfig}`));
    }
  });

  it('stores listed resources (the Widget CR too) under the KMS provider, others in plaintext', async () => {
    const core = coreApi(sb.env);
    await core.createNamespace({ body: { metadata: { name: NS } } });
    await core.createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 's1' }, stringData: { k: 'v' } },
    });
    await core.createNamespacedConfigMap({
      namespace: NS,
      body: { metadata: { name: 'c1' }, data: { k: 'v' } },
    });
    await core.createNamespacedServiceAccount({
      namespace: NS,
      body: { metadata: { name: 'sa1' } },
    });
    const custom = kubeConfig(sb.env).makeApiClient(CustomObjectsApi);
    const widget = { group: 'example.com', version: 'v1', namespace: NS, plural: 'widgets' };
    await custom.createNamespacedCustomObject({
      ...widget,
      body: {
        apiVersion: 'example.com/v1',
        kind: 'Widget',
        metadata: { name: 'w1' },
        spec: { size: 3 },
      },
    });

    assert.equal(await storedHead(`/secrets/${NS}/s1`), KMS_PREFIX);
    assert.equal(await storedHead(`/configmaps/${NS}/c1`), KMS_PREFIX);
    assert.equal(await storedHead(`/example.com/widgets/${NS}/w1`), KMS_PREFIX);
    const plain = await storedHead(`/serviceaccounts/${NS}/sa1`);
    assert.ok(plain.startsWith('k8s\0'), `a ServiceAccount is plain protobuf, got ${plain}`);

    // the apiserver decrypts what it wrote: the unknown field survived too
    const read = (await custom.getNamespacedCustomObject({ ...widget, name: 'w1' })) as {
      spec?: { size?: number };
    };
    assert.equal(read.spec?.size, 3);
  });

  it('rotate then rotate --to the first key: the apiserver reports the first key_id again', async () => {
    const [initial] = await status({ dir: sb.dir });
    const first = initial?.keyId;
    assert.equal(first, 'local-1');

    const k2 = await rotate({ dir: sb.dir });
    assert.equal(k2, 'local-2');
    await waitForKeyId(k2, { dir: sb.dir });

    await assert.rejects(rotate({ dir: sb.dir, to: 'local-9' }), /unknown key_id "local-9"/);

    assert.equal(await rotate({ dir: sb.dir, to: first }), first);
    await waitForKeyId(first, { dir: sb.dir });
    const [now] = await status({ dir: sb.dir });
    assert.equal(now?.keyId, first);

    // and writes go under it again
    await coreApi(sb.env).createNamespacedSecret({
      namespace: NS,
      body: { metadata: { name: 'after-rollback' }, stringData: { k: 'v' } },
    });
    const info = classifyValue(await stored(`/secrets/${NS}/after-rollback`));
    assert.equal(info.kind, 'kms-v2');
    assert.equal(info.keyID, first);
  });

  it('the CLI refuses a bad --encrypt list before starting anything', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-test-'));
    try {
      const r = spawnSync(
        process.execPath,
        [
          join(import.meta.dirname, '../support/sandbox/cli.ts'),
          '--dir',
          dir,
          'up',
          '--encrypt',
          'secrets,*.',
        ],
        { encoding: 'utf8' },
      );
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /\*\. already covers secrets/);
      assert.equal(existsSync(join(dir, 'env.json')), false, 'nothing was started');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
