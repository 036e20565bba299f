// End to end with GCP semantics, on the real Knative tier: the sandbox plugins use rekey's GCP
// adapter against the local Cloud KMS server and report the CryptoKeyVersion name as key_id (as
// Google's plugin does). A new primary version, announced by its Cloud Audit Log event (posted to
// the Broker as Eventarc's Knative source would, routed to kms-event by the GCP overlay's
// Trigger), is migrated to and proven from etcd.
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { KeyManagementServiceClient } from '@google-cloud/kms';
import { localKmsClientOptions } from '../../shared/adapters/gcp-kms/client.ts';
import { createGcpKms } from '../../shared/adapters/gcp-kms/gcp-kms.ts';
import { type Deployed, overlayTriggers } from '../support/deployed-functions.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { type GcpKmsServer, startGcpKmsServer } from '../support/gcp-kms-server/server.ts';
import { publishStructured } from '../support/knative/publish.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { serveRekey } from '../support/rekey-serve.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';

const LOCATION = 'projects/rekey-test/locations/global';
const KEY = `${LOCATION}/keyRings/k8s/cryptoKeys/etcd-kek`;

describe('e2e: GCP new primary version on the local Cloud KMS', () => {
  let gcp: GcpKmsServer;
  let sb: TestSandbox;
  let served: Deployed;
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
    served = await serveRekey(
      sb.env,
      { REKEY_KMS_KEY: KEY },
      // the real PingSource every 5 s instead of every minute, so waits between steps are short
      { triggers: [overlayTriggers('gcp')], tickSeconds: 5 },
    );
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
    await served.until(
      'the baseline revision to complete',
      async () => (await newest())?.phase === 'Completed',
      300_000,
    );
    assert.equal((await newest())?.keyId, `${KEY}/cryptoKeyVersions/1`);

    const kms = createGcpKms(localKmsClientOptions(gcp.endpoint));
    const v2 = await kms.rotateNow(KEY);
    await kms.close();
    assert.equal(v2, `${KEY}/cryptoKeyVersions/2`);
    const event = gcp.auditEvent('UpdateCryptoKeyPrimaryVersion', KEY);
    assert.ok(event, 'the server produced the audit-log event');
    const sentAt = Date.now();
    const status = await publishStructured(served.knative.brokerUrl, event);
    assert.ok(status >= 200 && status < 300, `the Broker took the event: ${status}`);

    await served.until(
      'a revision for the new primary version to complete',
      async () => {
        const n = await newest();
        return n?.keyId === v2 && n.phase === 'Completed';
      },
      600_000,
    );
    const noted = (await rekey.deps.store.list(sb.env.kms.providerName)).flatMap((s) =>
      s.revision.kmsRotation ? [s.revision.kmsRotation] : [],
    );
    assert.equal(noted.length, 1, `kms-event noted the rotation: ${JSON.stringify(noted)}`);
    assert.ok(served.requestedBy(sentAt).includes('kms-event'), 'and asked reconcile for a step');
    assert.equal((await newest())?.verification?.clean, true);
    const summary = await etcdSummary(sb.env);
    assert.deepEqual(
      summary.rows.map((row) => row.keyID),
      [v2],
    );
  });
});
