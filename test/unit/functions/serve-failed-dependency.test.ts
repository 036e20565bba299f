// `rekey serve` (every function on one app, composed from settings exactly as functions/cli/main.ts
// does) with its cluster failing in each way a cluster fails: refused, reset, TLS, DNS, the
// apiserver's 5xx, its 401 while rekey's projected token rotates, its 403. Every rotation and
// danger event of test/fixtures/events, in each form a sender posts it, and the webhook's
// `status`, must answer 503 with Retry-After (Knative retries it), never 500, and never name an
// internal. So must an apiserver (or a proxy in front of it) that answers 200 with a body that is
// not the object asked for: a proxy's page, nothing, `null`, `{}`. The apiservers are local
// stand-ins; nothing here waits on time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { mountClusterEvent } from '../../../functions/cluster-event/route.ts';
import { mountKmsEvent } from '../../../functions/kms-event/route.ts';
import { mountReconcile } from '../../../functions/reconcile/route.ts';
import { mountWebhook } from '../../../functions/webhook/route.ts';
import { composeApp, FUNCTION_NAMES } from '../../../shared/app/compose.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import { createPki } from '../../support/sandbox/pki.ts';
import { cloudEventRequest, fixture, type Json } from '../../support/unit/functions-fixtures.ts';
import {
  apiDestination,
  CLOUD_EVENT_FIXTURES,
  RAW_FIXTURES,
  raw,
  TOKEN,
} from '../../support/unit/kms-event-harness.ts';

const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const dir = mkdtempSync(join(tmpdir(), 'rekey-failed-dep-'));
const servers: (HttpsServer | TcpServer)[] = [];

async function listen(server: HttpsServer | TcpServer): Promise<number> {
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address();
  return typeof addr === 'object' && addr ? addr.port : 0;
}

/** A stand-in apiserver that answers every request with `status` (and `headers`). */
async function answering(
  tls: { key: string; cert: string },
  status: number,
  headers: Record<string, string> = {},
): Promise<string> {
  const port = await listen(
    createHttpsServer(tls, (_req, res) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify({ kind: 'Status', code: status, message: 'stand-in' }));
    }),
  );
  return `https://127.0.0.1:${port}`;
}

/** A stand-in apiserver that answers every request 200 with `body` as `contentType`. */
async function answeringOdd(
  tls: { key: string; cert: string },
  contentType: string,
  body: string,
): Promise<string> {
  const port = await listen(
    createHttpsServer(tls, (_req, res) => {
      res.writeHead(200, { 'content-type': contentType });
      res.end(body);
    }),
  );
  return `https://127.0.0.1:${port}`;
}

/** Every event a sender may post for a rotation or a danger of the key: [label, path, request]. */
function everyEvent(): [string, string, RequestInit][] {
  const out: [string, string, RequestInit][] = [];
  for (const name of Object.keys(CLOUD_EVENT_FIXTURES)) {
    out.push([`${name} (binary)`, '/kms-event', cloudEventRequest(fixture(name), 'binary')]);
    out.push([
      `${name} (structured)`,
      '/kms-event',
      cloudEventRequest(fixture(name), 'structured'),
    ]);
  }
  for (const name of Object.keys(RAW_FIXTURES)) {
    out.push([`${name} (raw EventBridge)`, '/kms-event/eventbridge', raw(fixture(name), TOKEN)]);
    out.push([
      `${name} (API destination)`,
      '/kms-event',
      cloudEventRequest(apiDestination(fixture(name)), 'structured'),
    ]);
  }
  return out;
}

function signedStatus(): { method: 'POST'; headers: Record<string, string>; body: string } {
  const body = JSON.stringify({ command: 'status' });
  const id = `msg_${randomBytes(8).toString('hex')}`;
  const at = new Date();
  return {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
      'webhook-signature': new Webhook(WEBHOOK_SECRET).sign(id, at, body),
    },
    body,
  };
}

/** `rekey serve`'s app for a cluster at `server`, as the rekey identity with a token file. */
function serve(server: string, caFile: string, exposure: 'private' | 'public') {
  const kubeconfig = join(dir, `kubeconfig-${randomBytes(4).toString('hex')}`);
  writeFileSync(join(dir, 'token'), 'rekey-token');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      'current-context': 'c',
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'rekey' } }],
      clusters: [{ name: 'c', cluster: { server, 'certificate-authority': caFile } }],
      users: [{ name: 'rekey', user: { tokenFile: 'token' } }],
    }),
  );
  const config = loadConfig({
    KUBECONFIG: kubeconfig,
    REKEY_PROVIDER: 'aws-kms',
    REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET,
    // a cluster-local kms-event takes in-cluster CloudEvents without sender identity; a public one
    // (the raw EventBridge path) only its shared secret
    ...(exposure === 'private'
      ? { REKEY_KMS_EVENT_PRIVATE: 'true' }
      : { REKEY_EVENTBRIDGE_TOKEN: TOKEN }),
    LOG_LEVEL: 'fatal',
  });
  const fns = composeApp(config).functions('serve', FUNCTION_NAMES);
  mountKmsEvent(fns.http, fns.kmsEvent);
  mountClusterEvent(fns.http, fns.clusterEvent);
  mountReconcile(fns.http, fns.reconcile);
  if (fns.webhook) mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
  return fns;
}

describe('rekey serve with a failing cluster: every failed dependency is 503 + Retry-After', () => {
  /** [what fails, the apiserver URL, the Retry-After it asked for, only a sample of events]. */
  const clusters: [string, () => string, string | undefined, boolean?][] = [];
  let caFile = '';
  before(async () => {
    const pki = await createPki(dir);
    caFile = pki.caFile;
    const { certFile, keyFile } = await pki.issueServing('apiserver', ['127.0.0.1'], []);
    const { readFileSync } = await import('node:fs');
    const tls = { key: readFileSync(keyFile, 'utf8'), cert: readFileSync(certFile, 'utf8') };
    const other = await createPki(mkdtempSync(join(dir, 'other-')));
    const untrusted = await other.issueServing('impostor', ['127.0.0.1'], []);
    const untrustedTls = {
      key: readFileSync(untrusted.keyFile, 'utf8'),
      cert: readFileSync(untrusted.certFile, 'utf8'),
    };

    const closed = await listen(createTcpServer());
    await new Promise<void>((r) => servers.pop()?.close(() => r()));
    const reset = await listen(createTcpServer((s) => s.resetAndDestroy()));
    const impostor = await listen(createHttpsServer(untrustedTls, (_q, s) => s.end('{}')));
    const urls = {
      refused: `https://127.0.0.1:${closed}`,
      reset: `https://127.0.0.1:${reset}`,
      tls: `https://127.0.0.1:${impostor}`,
      e500: await answering(tls, 500),
      e503: await answering(tls, 503, { 'retry-after': '120' }),
      e401: await answering(tls, 401),
      e403: await answering(tls, 403),
      e501: await answering(tls, 501),
      page: await answeringOdd(tls, 'text/html', '<html><body>bad gateway</body></html>'),
      empty: await answeringOdd(tls, 'application/json', ''),
      nullBody: await answeringOdd(tls, 'application/json', 'null'),
      emptyObject: await answeringOdd(tls, 'application/json', '{}'),
    };
    clusters.push(
      ['connection refused', () => urls.refused, undefined],
      ['connection reset', () => urls.reset, undefined],
      ['TLS failure (certificate of another CA)', () => urls.tls, undefined],
      // every lookup asks the resolver, which may be slow here: a rotation, a danger, a status
      ['DNS failure', () => 'https://rekey-apiserver.invalid:6443', undefined, true],
      ['apiserver 500', () => urls.e500, undefined],
      // the apiserver's own Retry-After, longer than any cap rekey had, is passed on
      ['apiserver 503 asking for 120 s', () => urls.e503, '120'],
      ["apiserver 401 (rekey's projected token rotating)", () => urls.e401, undefined],
      ["apiserver 403 (rekey's own RBAC)", () => urls.e403, undefined],
      ['apiserver 501', () => urls.e501, undefined],
      ["200 with a proxy's HTML page", () => urls.page, undefined],
      ['200 with an empty body', () => urls.empty, undefined],
      ['200 with null', () => urls.nullBody, undefined],
      ['200 with {} (not the object asked for)', () => urls.emptyObject, undefined],
    );
  });
  after(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers each rotation and danger event, the webhook status and a step 503', async () => {
    const wrong: string[] = [];
    const sampled = new Set([
      'ce-knative-aws-sqs.json (structured)',
      'gcp-destroy-version.json (binary)',
      'webhook status',
    ]);
    for (const [cluster, url, retryAfter, sample] of clusters) {
      const apps = {
        private: serve(url(), caFile, 'private'),
        public: serve(url(), caFile, 'public'),
      };
      try {
        const requests: [string, string, RequestInit][] = [
          ...everyEvent(),
          ['webhook status', '/webhook', signedStatus()],
          ['a reconcile tick', '/reconcile', cloudEventRequest(ping(), 'binary')],
        ];
        for (const [what, path, init] of requests) {
          if (sample && !sampled.has(what)) continue;
          const app = path === '/kms-event/eventbridge' ? apps.public : apps.private;
          const res = await app.http.request(path, init);
          const text = await res.text();
          const wait = res.headers.get('Retry-After');
          const ok =
            res.status === 503 &&
            wait !== null &&
            /^\d+$/.test(wait) &&
            (retryAfter === undefined || path === '/reconcile' || wait === retryAfter) &&
            !text.includes('127.0.0.1') &&
            !text.includes('invalid');
          if (!ok) wrong.push(`${cluster}: ${what} -> ${res.status} Retry-After ${wait}: ${text}`);
        }
      } finally {
        apps.private.close();
        apps.public.close();
      }
    }
    assert.deepEqual(
      wrong,
      [],
      `answers that Knative would not retry as it should:\n${wrong.join('\n')}`,
    );
  });
});

function ping(): Json {
  return {
    specversion: '1.0',
    id: `tick-${randomBytes(4).toString('hex')}`,
    type: 'dev.knative.sources.ping',
    source: '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick',
    datacontenttype: 'application/json',
    data: {},
  };
}
