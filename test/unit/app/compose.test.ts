// composeApp turns validated settings into rekey's graph: the step's tuning comes from the
// settings, the KMS rotator is built once and only for a key the cloud can rotate, a setting that
// can never work is refused while composing (a ConfigError, exit 2 at every entry point), and the
// webhook's `rotate` reaches the rotator the settings name, and runs nothing while the cluster that
// holds its replay claims cannot be reached, and the claims go to the replay namespace. No
// apiserver answers (one local HTTPS server refuses every call, to show where they went).

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mountWebhook } from '../../../functions/webhook/route.ts';
import type { Connection } from '../../../shared/adapters/k8s/connection.ts';
import { composeApp } from '../../../shared/app/compose.ts';
import { ConfigError, loadConfig } from '../../../shared/config/config.ts';
import { MemoryReplayClaims } from '../../../shared/http/replay-cache.ts';
import { createPki } from '../../support/sandbox/pki.ts';
import { signedWebhook } from '../../support/signed-webhook.ts';

/** An apiserver nobody calls: composing builds clients but sends nothing. */
const connection: Connection = { server: 'https://127.0.0.1:1', authorize: async () => {} };
const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const GCP_KEY = 'projects/p/locations/l/keyRings/r/cryptoKeys/k';
const AZURE_KEY = 'https://kv-acme.vault.azure.net/keys/etcd-kek';

const compose = (settings: Record<string, string>) =>
  composeApp(loadConfig({ REKEY_PROVIDER: 'aws-kms', LOG_LEVEL: 'fatal', ...settings }), {
    connection,
  });

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('composeApp', () => {
  it('tunes the step from the settings', () => {
    const rekey = compose({
      REKEY_RESOURCES: 'secrets,configmaps',
      REKEY_BUDGET_SECONDS: '20',
      REKEY_PAGE_SIZE: '50',
      REKEY_HOLDER: 'runner-1',
    });
    try {
      assert.deepEqual(
        {
          provider: rekey.reconcile.provider,
          resources: rekey.reconcile.resources,
          budgetMs: rekey.reconcile.budgetMs,
          pageSize: rekey.reconcile.pageSize,
          holder: rekey.reconcile.holder,
        },
        {
          provider: 'aws-kms',
          resources: ['secrets', 'configmaps'],
          budgetMs: 20_000,
          pageSize: 50,
          holder: 'runner-1',
        },
      );
      assert.equal(rekey.deps.verifier, undefined, 'no etcd endpoints, no verifier');
      assert.equal(rekey.deps.events, undefined, 'the CLI emits no events');
    } finally {
      rekey.close();
    }
  });

  it('builds the KMS rotator once, and only for a key the cloud can rotate', () => {
    const aws = compose({ REKEY_KMS_KEY: AWS_KEY });
    assert.equal(aws.rotator?.describe, `aws ${AWS_KEY}`);
    assert.equal(aws.rotator, aws.rotator, 'the same rotator every time');
    assert.equal(compose({ REKEY_KMS_KEY: GCP_KEY }).rotator?.describe, `gcp ${GCP_KEY}`);
    assert.equal(compose({ REKEY_KMS_KEY: AZURE_KEY }).rotator, undefined);
    assert.equal(compose({}).rotator, undefined);
  });

  it('refuses an unreadable etcd CA file while composing, naming the variable', () => {
    assert.throws(
      () =>
        compose({
          REKEY_ETCD_ENDPOINTS: 'https://127.0.0.1:2379',
          REKEY_ETCD_CA_FILE: '/nonexistent/rekey-ca.crt',
        }),
      (err: Error) => err instanceof ConfigError && /^REKEY_ETCD_CA_FILE: /.test(err.message),
    );
  });

  describe('etcd certificate files: only whoever runs the steps opens them', () => {
    const ETCD_MISSING = {
      REKEY_ETCD_ENDPOINTS: 'https://127.0.0.1:2379',
      REKEY_ETCD_CA_FILE: '/nonexistent/rekey-etcd/ca.crt',
      REKEY_ETCD_CERT_FILE: '/nonexistent/rekey-etcd/tls.crt',
      REKEY_ETCD_KEY_FILE: '/nonexistent/rekey-etcd/tls.key',
    };
    const DELEGATING = { REKEY_STEP_MODE: 'delegate', K_SINK: 'http://127.0.0.1:1' };
    const refusesCaFile = (err: Error) =>
      err instanceof ConfigError && /^REKEY_ETCD_CA_FILE: /.test(err.message);

    it('a trigger function that hands its steps off composes and serves without the files', async () => {
      const rekey = compose({ ...ETCD_MISSING, ...DELEGATING });
      try {
        for (const name of ['kms-event', 'cluster-event', 'webhook'] as const) {
          const fns = rekey.functions(name, [name]);
          // the webhook's readiness reads the (absent) apiservers; the others read nothing
          const res = await fns.http.request(name === 'webhook' ? '/healthz' : '/readyz');
          assert.equal(res.status, 200, name);
        }
      } finally {
        rekey.close();
      }
    });

    it('a delegating process opens them on first use, and refuses then, naming the variable', async () => {
      const rekey = compose({ ...ETCD_MISSING, ...DELEGATING });
      try {
        assert.ok(rekey.deps.verifier && rekey.deps.scanner, 'verification is configured');
        await assert.rejects(
          rekey.deps.verifier.scan({ scope: [], provider: 'aws-kms', currentKeyId: 'k' }),
          refusesCaFile,
        );
        await assert.rejects(
          rekey.deps.scanner.values()[Symbol.asyncIterator]().next(),
          refusesCaFile,
        );
      } finally {
        rekey.close();
      }
    });

    it('serving the reconcile function refuses them at start-up, even when delegating', () => {
      const rekey = compose({ ...ETCD_MISSING, ...DELEGATING });
      try {
        assert.throws(() => rekey.functions('reconcile', ['reconcile']), refusesCaFile);
        assert.throws(() => rekey.functions('serve', ['kms-event', 'reconcile']), refusesCaFile);
      } finally {
        rekey.close();
      }
    });
  });

  it("keeps revisions and the runner Lease in the state namespace, reports in rekey's", () => {
    const rekey = compose({ REKEY_STATE_NAMESPACE: 'rekey-state' });
    try {
      assert.equal(rekey.reconcile.namespace, 'rekey-state', 'own writes are recognised there');
      const fns = rekey.functions('cluster-event', ['cluster-event']);
      assert.deepEqual(
        { namespace: fns.clusterEvent.namespace, state: fns.clusterEvent.stateNamespace },
        { namespace: 'rekey-system', state: 'rekey-state' },
      );
    } finally {
      rekey.close();
    }
    const same = compose({});
    try {
      assert.equal(same.reconcile.namespace, 'rekey-system', 'unset: rekey-system');
    } finally {
      same.close();
    }
  });

  it("keeps the webhook's replay claims in REKEY_REPLAY_NAMESPACE; unset, in the state namespace", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rekey-compose-replay-'));
    const seen: string[] = [];
    let server: HttpsServer | undefined;
    try {
      const pki = await createPki(dir);
      const { certFile, keyFile } = await pki.issueServing('apiserver', ['127.0.0.1'], []);
      // an apiserver that refuses every call: the claim is asked for, and nothing runs
      server = createHttpsServer(
        { cert: readFileSync(certFile), key: readFileSync(keyFile) },
        (req, res) => {
          seen.push(`${req.method} ${req.url}`);
          req.resume();
          res.writeHead(403, { 'content-type': 'application/json' }).end('{}');
        },
      );
      server.listen(0, '127.0.0.1');
      await once(server, 'listening');
      const { port } = server.address() as { port: number };
      const apiserver: Connection = {
        server: `https://127.0.0.1:${port}`,
        authorize: async (opts) => {
          opts.ca = pki.caPem;
        },
      };
      const secret = `whsec_${randomBytes(24).toString('base64')}`;
      const claimedIn = async (settings: Record<string, string>) => {
        const rekey = composeApp(
          loadConfig({
            REKEY_PROVIDER: 'aws-kms',
            LOG_LEVEL: 'fatal',
            REKEY_WEBHOOK_SECRETS: secret,
            ...settings,
          }),
          { connection: apiserver },
        );
        const fns = rekey.functions('webhook', ['webhook']);
        assert.ok(fns.webhook);
        mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
        const id = `msg_replay_ns_${seen.length}`;
        seen.length = 0;
        try {
          const res = await fns.http.request(
            '/webhook',
            signedWebhook(secret, id, { command: 'status' }),
          );
          assert.equal(res.status, 503, 'no claim, no command');
          return [...seen];
        } finally {
          fns.close();
        }
      };
      const claims = (ns: string) => `POST /apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
      assert.deepEqual(
        await claimedIn({
          REKEY_STATE_NAMESPACE: 'rekey-state',
          REKEY_REPLAY_NAMESPACE: 'rekey-replay',
        }),
        [claims('rekey-replay')],
      );
      assert.deepEqual(await claimedIn({ REKEY_STATE_NAMESPACE: 'rekey-state' }), [
        claims('rekey-state'),
      ]);
      assert.deepEqual(await claimedIn({}), [claims('rekey-system')]);
    } finally {
      server?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the webhook's rotate reaches the settings' KMS: a GCP endpoint that is down => 503, no step", async () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const rekey = compose({
      REKEY_KMS_KEY: GCP_KEY,
      REKEY_GCP_ENDPOINT: `127.0.0.1:${await closedPort()}`,
      REKEY_WEBHOOK_SECRETS: secret,
    });
    const fns = rekey.functions('webhook', ['webhook']);
    assert.ok(fns.webhook?.deps.rotate, 'rotate is served');
    const request = (id: string) => signedWebhook(secret, id, { command: 'rotate' });
    // as composed, the claims are Leases on the (unreachable) apiserver: no claim, no rotation
    mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify, '/webhook-composed');
    // with claims this process can take, the rotation reaches the settings' KMS
    mountWebhook(fns.http, fns.webhook.deps, {
      ...fns.webhook.verify,
      claims: new MemoryReplayClaims(),
    });
    const unclaimed = await fns.http.request('/webhook-composed', request('msg_compose_0'));
    assert.equal(unclaimed.status, 503);
    assert.equal(
      ((await unclaimed.json()) as { message?: string }).message,
      'temporarily unavailable, retry later',
    );
    const res = await fns.http.request('/webhook', request('msg_compose_rotate'));
    const answer = (await res.json()) as { message?: string };
    // a step would have failed on the unreachable apiserver with its own message
    assert.equal(res.status, 503, JSON.stringify(answer));
    assert.match(String(answer.message), /^rotate: the KMS answered UNAVAILABLE/);
    fns.close();
  });
});
