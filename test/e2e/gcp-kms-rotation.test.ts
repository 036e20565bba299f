// End to end with GCP semantics: the sandbox plugins use rekey's GCP adapter against the local
// Cloud KMS server and report the CryptoKeyVersion name as key_id (as Google's plugin does). A new
// primary version, announced by its Cloud Audit Log event, is migrated to and proven from etcd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { localKmsClientOptions } from '../../shared/adapters/gcp-kms/client.ts';
import { createGcpKms } from '../../shared/adapters/gcp-kms/gcp-kms.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { type GcpKmsServer, startGcpKmsServer } from '../support/gcp-kms-server/server.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { type ServedRekey, serveRekey } from '../support/rekey-serve.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';

const LOCATION = 'projects/rekey-test/locations/global';
const KEY = `${LOCATION}/keyRings/k8s/cryptoKeys/etcd-kek`;

describe('e2e: GCP new primary version on the local Cloud KMS', () => {
  let gcp: GcpKmsServer;
  let sb: TestSandbox;
  let served: ServedRekey;
  let rekey: RekeyUnderTest;

  before(async () => {
    gcp = await startGcpKmsServer();
    const admin = new KeyManagementServiceClient(
      localKmsClientOptions(gcp.endpoint) as ConstructorParameters<
        typeof KeyManagementServiceClient
      >[0],
    );
    await admin.createKeyRing({ parent: LOCATION, keyRingId: 'k8s' });
    await admin.createCryptoKey({
      parent: `${LOCATION}/keyRings/k8s`,
      cryptoKeyId: 'etcd-kek',
      cryptoKey: { purpose: 'ENCRYPT_DECRYPT' },
    });
    await admin.close();
    sb = await startSandbox({ pluginBackend: { kind: 'gcp', endpoint: gcp.endpoint, key: KEY } });
    await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'gcp' });
    served = await serveRekey(sb.env, sb.dir, { REKEY_KMS_KEY: KEY });
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    await served?.stop();
    rekey?.close();
    await sb?.stop();
    await gcp?.stop();
  });

  async function newest() {
    const all = await rekey.deps.store.list(sb.env.kms.providerName);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  }

  it('migrates to the new primary version after its audit-log event', async () => {
    await served.tickUntil(async () => (await newest())?.phase === 'Completed', 90_000);
    assert.equal((await newest())?.keyId, `${KEY}/cryptoKeyVersions/1`);

    const kms = createGcpKms(localKmsClientOptions(gcp.endpoint));
    const v2 = await kms.rotateNow(KEY);
    await kms.close();
    assert.equal(v2, `${KEY}/cryptoKeyVersions/2`);
    const event = gcp.auditEvent('UpdateCryptoKeyPrimaryVersion', KEY);
    assert.ok(event, 'the server produced the audit-log event');
    const r = await fetch(`${served.base}/kms-event`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json' },
      body: JSON.stringify(event),
    });
    assert.equal(r.status, 200, await r.clone().text());
    assert.equal(((await r.json()) as { outcome: string }).outcome, 'rotation');

    await served.tickUntil(async () => {
      const n = await newest();
      return n?.keyId === v2 && n.phase === 'Completed';
    }, 240_000);
    assert.equal((await newest())?.verification?.clean, true);
    const summary = await etcdSummary(sb.env);
    assert.deepEqual(
      summary.rows.map((row) => row.keyID),
      [v2],
    );
  });
});
