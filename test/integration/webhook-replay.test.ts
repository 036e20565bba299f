// Webhook replay protection shared by replicas, on a real apiserver: two webhook function
// "replicas" (two app instances, each with its own claims and clients, as two pods) share the
// cluster's Leases, as the webhook's own ServiceAccount (a token the apiserver issued, infra/'s
// RBAC) with the claims in their own namespace, as infra/ deploys it (REKEY_REPLAY_NAMESPACE):
// none lands in rekey-state, where that identity holds no Lease verb. The same signed `rotate`,
// sent to both at once and again later (also to a third instance, as after a scale to zero),
// rotates the key on the local AWS KMS endpoint exactly once, and every replay answers the
// recorded result. A rotation that fails releases the claim, so the sender's retry runs, at the
// other replica; the claim of a holder that died (no renewal for its duration) is taken over.
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { CreateKeyCommand, KMSClient, ListKeyRotationsCommand } from '@aws-sdk/client-kms';
import { Webhook } from 'standardwebhooks';
import { mountWebhook } from '../../functions/webhook/route.ts';
import { connectionFromKubeconfig } from '../../shared/adapters/k8s/connection.ts';
import { claimLeaseName } from '../../shared/adapters/k8s/replay-claims.ts';
import { microTime } from '../../shared/adapters/k8s/typed-api.ts';
import { composeApp, type RekeyApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import { type AwsKmsServer, startAwsKmsServer } from '../support/aws-kms-server/server.ts';
import { serviceAccountKubeConfig } from '../support/deployed-functions.ts';
import { coordinationApi } from '../support/kube.ts';
import { REPLAY_NAMESPACE, rekeySettings, STATE_NAMESPACE } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const credentials = { accessKeyId: 'rekey-test', secretAccessKey: 'rekey-test' };
// the rotator's AWS SDK signs with the environment's credentials, as in a pod
process.env.AWS_ACCESS_KEY_ID = credentials.accessKeyId;
process.env.AWS_SECRET_ACCESS_KEY = credentials.secretAccessKey;

const SECRET = `whsec_${Buffer.from('rekey webhook replay test secret').toString('base64')}`;
// the claims are Leases in their own namespace, as infra/ sets for the webhook
const NAMESPACE = REPLAY_NAMESPACE;

type Json = Record<string, unknown>;

function signed(id: string, payload: unknown) {
  const at = new Date();
  const body = JSON.stringify(payload);
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(SECRET).sign(id, at, body),
    },
    body,
  };
}

describe('webhook: replay protection shared by replicas (real apiserver)', () => {
  let sb: TestSandbox;
  let aws: AwsKmsServer;
  let arn: string;
  let broker: Server;
  /** The webhook ServiceAccount's kubeconfig, with a token the sandbox apiserver issued. */
  let webhookKubeconfig = '';
  const apps: RekeyApp[] = [];

  before(async () => {
    aws = await startAwsKmsServer({ region: 'us-west-2', rotationDelayMs: 100 });
    const raw = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials });
    arn =
      (await raw.send(new CreateKeyCommand({ Description: 'etcd KEK' }))).KeyMetadata?.Arn ?? '';
    raw.destroy();
    // a Broker stand-in for the step each rotation hands off
    broker = createServer((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(202).end());
    });
    await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
    sb = await startSandbox();
    webhookKubeconfig = (await serviceAccountKubeConfig(sb.env, 'rekey-webhook')).exportConfig();
  });
  after(async () => {
    for (const a of apps) a.close();
    await sb?.stop();
    broker?.close();
    await aws?.close();
  });

  /** One webhook replica: its own app, claims and clients, as the webhook's ServiceAccount. */
  function replica(holder: string) {
    const app = composeApp(
      loadConfig(
        rekeySettings(sb.env, {
          REKEY_HOLDER: holder,
          REKEY_WEBHOOK_SECRETS: SECRET,
          REKEY_KMS_KEY: arn,
          REKEY_AWS_ENDPOINT: aws.endpoint,
          REKEY_REPLAY_NAMESPACE: REPLAY_NAMESPACE,
          REKEY_STEP_MODE: 'delegate',
          K_SINK: `http://127.0.0.1:${(broker.address() as AddressInfo).port}/`,
          LOG_LEVEL: 'fatal',
        }),
      ),
      { connection: connectionFromKubeconfig(webhookKubeconfig) },
    );
    apps.push(app);
    const fns = app.functions('webhook', ['webhook']);
    assert.ok(fns.webhook);
    mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
    return async (req: ReturnType<typeof signed>) => {
      const res = await fns.http.request('/webhook', req);
      return { status: res.status, body: (await res.json()) as Json };
    };
  }

  async function rotations(): Promise<number> {
    const kms = new KMSClient({ endpoint: aws.endpoint, region: aws.region, credentials });
    try {
      const out = await kms.send(new ListKeyRotationsCommand({ KeyId: arn }));
      return out.Rotations?.length ?? 0;
    } finally {
      kms.destroy();
    }
  }

  async function claimLease(id: string, namespace = NAMESPACE) {
    try {
      return await coordinationApi(sb.env).readNamespacedLease({
        name: claimLeaseName(id),
        namespace,
      });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  it('the same signed rotate at two replicas at once, and again later: one rotation', async () => {
    const a = replica('replica-a');
    const b = replica('replica-b');
    const before1 = await rotations();
    const req = signed('rotate-once', { command: 'rotate' });

    const both = await Promise.all([a(req), b(req)]);
    const ran = both.filter((r) => r.status === 200 && r.body.duplicate !== true);
    assert.equal(ran.length, 1, `exactly one replica ran it: ${JSON.stringify(both)}`);
    const other = both.find((r) => r !== ran[0]);
    assert.ok(
      other && (other.status === 429 || other.body.duplicate === true),
      `the other one waited or answered the record: ${JSON.stringify(other)}`,
    );
    const result = (ran[0]?.body.result ?? {}) as Json;
    assert.equal(typeof result.current, 'string');

    // later, at either replica and at a fresh one (a scale to zero and back): the recorded result
    const c = replica('replica-c');
    for (const send of [a, b, c]) {
      const replay = await waitFor('the recorded result of the rotation', async () => {
        const r = await send(req);
        return r.status === 200 ? r : undefined;
      });
      assert.equal(replay.body.duplicate, true);
      assert.deepEqual(replay.body.result, result);
    }
    assert.equal((await rotations()) - before1, 1, 'the KMS rotated once');
    const lease = await claimLease('rotate-once');
    assert.equal(lease?.metadata?.annotations?.['rekey.dev/webhook-state'], 'done');
    assert.equal(
      await claimLease('rotate-once', STATE_NAMESPACE),
      undefined,
      'none in rekey-state',
    );
  });

  it('a rotation that fails releases the claim: the retry runs at the other replica, once', async () => {
    const a = replica('replica-d');
    const b = replica('replica-e');
    const before1 = await rotations();
    const req = signed('rotate-retried', { command: 'rotate' });
    // throttled on every attempt the SDK makes
    aws.failNext({ operation: 'RotateKeyOnDemand', type: 'ThrottlingException', times: 3 });

    const failed = await a(req);
    assert.equal(failed.status, 503, JSON.stringify(failed.body));
    assert.equal(await claimLease('rotate-retried'), undefined, 'the claim was released');
    assert.equal(await rotations(), before1);

    const retried = await b(req);
    assert.equal(retried.status, 200, JSON.stringify(retried.body));
    assert.notEqual(retried.body.duplicate, true);
    const replay = await a(req);
    assert.deepEqual([replay.status, replay.body.duplicate], [200, true]);
    assert.equal((await rotations()) - before1, 1);
  });

  it('the claim of a holder that stopped renewing it is taken over; a fresh one is waited for', async () => {
    const a = replica('replica-f');
    const minutesAgo = (m: number) => new Date(Date.now() - m * 60_000);
    const claimOf = (id: string, holder: string, renewed: Date) => ({
      metadata: {
        name: claimLeaseName(id),
        annotations: {
          'rekey.dev/webhook-state': 'running',
          'rekey.dev/webhook-expires': new Date(Date.now() + 10 * 60_000).toISOString(),
        },
      },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: 150,
        acquireTime: microTime(renewed.getTime()),
        renewTime: microTime(renewed.getTime()),
      },
    });
    const admin = coordinationApi(sb.env);
    // a holder renewing its claim right now, and one that crashed ten minutes ago
    await admin.createNamespacedLease({
      namespace: NAMESPACE,
      body: claimOf('rotate-busy', 'replica-alive', new Date()),
    });
    await admin.createNamespacedLease({
      namespace: NAMESPACE,
      body: claimOf('rotate-orphaned', 'replica-crashed', minutesAgo(10)),
    });
    const before1 = await rotations();

    const busy = await a(signed('rotate-busy', { command: 'rotate' }));
    assert.equal(busy.status, 429, JSON.stringify(busy.body));
    assert.equal(await rotations(), before1, 'nothing ran beside the live holder');

    const orphaned = await a(signed('rotate-orphaned', { command: 'rotate' }));
    assert.equal(orphaned.status, 200, JSON.stringify(orphaned.body));
    assert.notEqual(orphaned.body.duplicate, true);
    const lease = await claimLease('rotate-orphaned');
    assert.deepEqual(
      [lease?.spec?.holderIdentity, lease?.metadata?.annotations?.['rekey.dev/webhook-state']],
      ['replica-f', 'done'],
    );
    assert.equal((await rotations()) - before1, 1);
  });
});
