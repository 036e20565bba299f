// End to end with AWS semantics: the sandbox plugins wrap DEK seeds through rekey's AWS adapter
// against the local AWS KMS endpoint and report `<KeyArn>#<CurrentKeyMaterialId>`, so an AWS
// on-demand rotation becomes a key_id change. Its EventBridge event (TriggerMesh form) reaches
// /kms-event; rekey migrates everything under the new material and proves it from etcd. After
// the baseline, no tick reaches rekey: the event's own step records the new material and its
// continuations carry the migration to the end, so the test cannot pass if the event did nothing.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import { Webhook } from 'standardwebhooks';
import { createAwsKms } from '../../shared/adapters/aws-kms/index.ts';
import { assessConvergence } from '../../shared/domain/convergence.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { type AwsKmsServer, startAwsKmsServer } from '../support/aws-kms-server/server.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { deliver } from '../support/knative-broker.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { type ServedRekey, serveRekey } from '../support/rekey-serve.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { type Seeded, seedMany } from '../support/seed.ts';

const credentials = { accessKeyId: 'rekey-test', secretAccessKey: 'rekey-test' };
const WEBHOOK_SECRET = `whsec_${Buffer.from('rekey e2e webhook secret').toString('base64')}`;

function asTriggerMesh(event: { id: string; 'detail-type': string }) {
  return {
    type: 'com.amazon.events.event',
    source: 'arn:aws:events:us-west-2:111122223333:event-bus/default',
    id: event.id,
    data: event,
    extensions: { awseventssource: 'aws.kms', awseventsdetailtype: event['detail-type'] },
  };
}

describe('e2e: AWS on-demand rotation on the local AWS KMS endpoint', () => {
  let aws: AwsKmsServer;
  let arn: string;
  let sb: TestSandbox;
  let served: ServedRekey;
  let rekey: RekeyUnderTest;
  let seeded: Seeded[];
  const kms = () => createAwsKms({ endpoint: aws.endpoint, region: aws.region, credentials });

  before(async () => {
    aws = await startAwsKmsServer({
      region: 'us-west-2',
      account: '111122223333',
      rotationDelayMs: 300,
    });
    const raw = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials });
    arn =
      (await raw.send(new CreateKeyCommand({ Description: 'etcd KEK' }))).KeyMetadata?.Arn ?? '';
    raw.destroy();
    sb = await startSandbox({ pluginBackend: { kind: 'aws', endpoint: aws.endpoint, key: arn } });
    seeded = await seedMany(coreApi(sb.env), { namespaces: 2, perNamespace: 100, prefix: 'aws' });
    served = await serveRekey(sb.env, sb.dir, {
      REKEY_KMS_KEY: arn,
      REKEY_AWS_ENDPOINT: aws.endpoint,
      AWS_ACCESS_KEY_ID: credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
      REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    });
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    await served?.stop();
    rekey?.close();
    await sb?.stop();
    await aws?.close();
  });

  async function newest() {
    const all = await rekey.deps.store.list(sb.env.kms.providerName);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  }

  /**
   * Waits, by reading state and never by stepping rekey, until every key-id report names `keyId`
   * and every apiserver writes with it: then the event's own step can record and migrate it.
   */
  async function adopted(keyId: string) {
    const provider = sb.env.kms.providerName;
    await waitFor(
      'every plugin to report the new material',
      async () => {
        const seen = await rekey.deps.observer.observe(provider);
        const ids = seen.observations.map((o) => o.keyId);
        return ids.length > 0 && ids.every((id) => id === keyId) ? true : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
    await waitFor(
      'every apiserver to adopt the new material',
      async () => {
        // what rekey itself does while it waits: ask each apiserver to re-check its plugin now
        await rekey.deps.adoption.hurry();
        const a = await rekey.deps.adoption.read();
        const verdict = assessConvergence({
          keyIdHash: keyIdHash(keyId),
          provider,
          liveApiservers: a.liveApiservers,
          samples: a.samples,
          metricsReadable: a.metricsReadable,
          kmsUnhealthy: a.kmsUnhealthy,
          observedAt: new Date(),
          now: new Date(),
        });
        return verdict.converged && verdict.via === 'metrics' ? true : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 1000 },
    );
  }

  const sent = (type: string) => served.broker.events.filter((e) => e.type === `dev.rekey.${type}`);

  it('re-encrypts everything under the new key material after its rotation event', async (t) => {
    const adapter = kms();
    const before1 = await adapter.keyIdentity(arn);
    await served.tickUntil(async () => (await newest())?.phase === 'Completed', 90_000);
    assert.equal(
      (await newest())?.keyId,
      before1,
      'the baseline revision records <arn>#<material>',
    );

    const material = await adapter.rotateOnDemand(arn, { pollMs: 100 });
    const after1 = `${arn}#${material}`;
    assert.notEqual(after1, before1);
    const event = aws.lastRotationEvent(arn);
    assert.ok(event, 'the endpoint produced the rotation event');

    // from here on no tick: the event is the only trigger
    await adopted(after1);
    const baseline = await newest();
    assert.equal(baseline?.keyId, before1, 'nothing recorded the new material before the event');
    const slicesBefore = sent('migration.slice').length;
    const r = await deliver(`${served.base}/kms-event`, asTriggerMesh(event));
    assert.equal(r.status, 200, r.body);
    const answer = JSON.parse(r.body) as {
      outcome: string;
      step: {
        kind: string;
        revision?: string;
        keyIdHash?: string;
        more?: boolean;
        step?: { kind: string };
      };
    };
    assert.equal(answer.outcome, 'rotation');
    assert.equal(answer.step.kind, 'step', r.body);
    assert.equal(
      answer.step.keyIdHash,
      keyIdHash(after1),
      'the event step acted on the new material',
    );
    // a wait would need a tick to go on: the event step found the new material ready to migrate
    assert.ok(['migrate', 'verify', 'complete'].includes(answer.step.step?.kind ?? ''), r.body);
    const created = await newest();
    assert.equal(created?.keyId, after1, 'the event step recorded the new material');
    assert.equal(created?.name, answer.step.revision);
    assert.equal(created?.number, (baseline?.number ?? 0) + 1);
    assert.deepEqual(
      sent('revision.created')
        .map((e) => (e.data as { revision?: string }).revision)
        .filter((name) => name === created?.name),
      [created?.name],
      'created once, by the event step',
    );

    const done = await waitFor(
      'the continuations of the event step to complete the migration',
      async () => {
        const n = await newest();
        return n?.name === created?.name && n?.phase === 'Completed' ? n : undefined;
      },
      { timeoutMs: 240_000, intervalMs: 500 },
    );
    if (answer.step.more) {
      assert.ok(sent('migration.slice').length > slicesBefore, 'carried on by continuations');
    }
    assert.equal(done.verification?.clean, true);
    const summary = await etcdSummary(sb.env);
    assert.deepEqual(
      summary.rows.map((row) => row.keyID),
      [after1],
      'every secret is under the new material in etcd',
    );
    const api = coreApi(sb.env);
    for (const s of seeded.slice(0, 20)) {
      const now = await api.readNamespacedSecret({ name: s.name, namespace: s.namespace });
      assert.equal(now.data?.value, s.value, 'data intact');
    }
    t.diagnostic(`key_id ${before1.slice(-12)} -> ${after1.slice(-12)}`);
    adapter.close();
  });

  it('a rotation event for a key the cluster does not use is unrelated and rewrites nothing', async () => {
    const before1 = await newest();
    const event = structuredClone(aws.lastRotationEvent(arn)) as {
      id: string;
      'detail-type': string;
      resources: string[];
    };
    event.id = 'another-key';
    event.resources = [
      'arn:aws:kms:us-west-2:111122223333:key/00000000-1111-2222-3333-444444444444',
    ];
    const r = await deliver(`${served.base}/kms-event`, asTriggerMesh(event));
    assert.equal(r.status, 200, r.body);
    assert.equal(JSON.parse(r.body).outcome, 'unrelated');
    const after1 = await newest();
    assert.equal(after1?.name, before1?.name);
    assert.equal(after1?.updatedAt, before1?.updatedAt);
  });

  it('a signed webhook "rotate" rotates the AWS key now, and the next steps migrate to it', async () => {
    const before1 = await newest();
    const body = JSON.stringify({ command: 'rotate' });
    const id = 'msg_rotate_1';
    const at = new Date();
    const signature = new Webhook(WEBHOOK_SECRET).sign(id, at, body);
    const r = await fetch(`${served.base}/webhook`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
        'webhook-signature': signature,
      },
      body,
    });
    const answer = (await r.json()) as { result?: { current?: string } };
    assert.equal(r.status, 200, JSON.stringify(answer));
    const material = answer.result?.current;
    assert.ok(material, 'the new current material is reported');
    const target = `${arn}#${material}`;
    assert.notEqual(target, before1?.keyId);
    await served.tickUntil(async () => {
      const n = await newest();
      return n?.keyId === target && n.phase === 'Completed';
    }, 240_000);
    assert.deepEqual(
      (await etcdSummary(sb.env)).rows.map((row) => row.keyID),
      [target],
    );
  });
});
