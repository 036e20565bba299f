// The functions as shared/app composes them, over fake ports and a real local Broker stand-in:
// with REKEY_STEP_MODE=delegate a trigger function hands its step to the reconcile function (one
// dev.rekey.step.requested on the wire, no Lease taken here), and a Broker that cannot take it is
// a 503 Knative redelivers; with `local` the trigger runs the step itself and requests none.
// Outgoing webhooks get the public event types only and never fail an emit. /readyz reports the
// adoption snapshot the last step read and calls no apiserver; /webhook is composed only with its
// secrets, and `rotate` only where the KMS can rotate.

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { type AddressInfo, createServer as createTcpServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { mountClusterEvent } from '../../../functions/cluster-event/route.ts';
import { mountKmsEvent } from '../../../functions/kms-event/route.ts';
import { mountWebhook } from '../../../functions/webhook/route.ts';
import type { AuthenticationApi } from '../../../shared/adapters/k8s/typed-api.ts';
import type { KmsRotator } from '../../../shared/adapters/kms-rotator.ts';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { composeApp } from '../../../shared/app/compose.ts';
import {
  composeFunctions,
  type FunctionName,
  UNAUTHENTICATED_PATHS,
} from '../../../shared/app/functions.ts';
import { loadConfig } from '../../../shared/config/config.ts';
import type { ReconcileDeps } from '../../../shared/core/deps.ts';
import { MemoryReplayClaims } from '../../../shared/http/replay-cache.ts';
import type { AdoptionSnapshot } from '../../../shared/ports/adoption-reader.ts';
import { systemClock } from '../../../shared/ports/clock.ts';
import { signedWebhook } from '../../support/signed-webhook.ts';
import { cloudEventRequest, fixture, type Json } from '../../support/unit/functions-fixtures.ts';

const PROVIDER = 'aws-kms';
const WEBHOOK_SECRET = `whsec_${randomBytes(24).toString('base64')}`;

/** What the Broker stand-in received: each event's type and data. */
const received: { type: string; data: Json }[] = [];
const broker = createServer((req, res) => {
  let body = '';
  req.on('data', (c: Buffer) => (body += c));
  req.on('end', () => {
    received.push({ type: String(req.headers['ce-type']), data: JSON.parse(body || '{}') as Json });
    res.writeHead(202).end();
  });
});
let brokerUrl = '';
before(async () => {
  await new Promise<void>((r) => broker.listen(0, '127.0.0.1', r));
  brokerUrl = `http://127.0.0.1:${(broker.address() as AddressInfo).port}/rekey-system/rekey`;
});
after(() => broker.close());

/** A port nothing listens on (a Broker that is down). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A port that fails the test if it is used. */
function unused<T extends object>(what: string): T {
  return new Proxy({} as T, {
    get: (_t, p) => () => {
      throw new Error(`${what}.${String(p)} must not be called`);
    },
  });
}

/**
 * Fake reconcile ports: revisions in memory, no key_id observed, and a Lease always held by
 * another runner, so a step that runs answers `busy` and counts in `leases`.
 */
function fakePorts(adoption?: AdoptionSnapshot) {
  const calls = { leases: 0, adoptionReads: 0 };
  const deps: ReconcileDeps = {
    store: createMemoryRevisionStore(),
    observer: { observe: async () => ({ observations: [], pluginHealth: { status: 'unknown' } }) },
    adoption: adoption
      ? {
          read: async () => {
            calls.adoptionReads++;
            return adoption;
          },
          hurry: async () => {},
        }
      : unused('adoption'),
    rewriter: unused('rewriter'),
    lock: {
      tryAcquire: async () => {
        calls.leases++;
        return { acquired: false, heldBy: 'another-runner' };
      },
      renew: async () => undefined,
      release: async () => {},
    },
    clock: systemClock,
    log: () => {},
  };
  return { deps, calls };
}

function compose(
  settings: Record<string, string>,
  served: readonly FunctionName[],
  { rotator, adoption }: { rotator?: KmsRotator; adoption?: AdoptionSnapshot } = {},
) {
  const config = loadConfig({ REKEY_PROVIDER: PROVIDER, LOG_LEVEL: 'fatal', ...settings });
  const { deps, calls } = fakePorts(adoption);
  const fns = composeFunctions(
    {
      config,
      deps,
      reconcile: { provider: PROVIDER, holder: 'test' },
      authentication: unused<AuthenticationApi>('authentication'),
      webhookClaims: new MemoryReplayClaims(),
      rotator: () => rotator,
      close: () => {},
    },
    served[0] ?? 'none',
    served,
  );
  return { fns, calls };
}

const REPORT_CHANGE = (): Json => {
  const ev = fixture('apiserversource-ref-update-revision.json');
  ev.data = { ...(ev.data as Json), kind: 'ConfigMap', name: 'key-id-report-node-a' };
  ev.subject = '/api/v1/namespaces/rekey-system/configmaps/key-id-report-node-a';
  return ev;
};

describe('functions as shared/app composes them', () => {
  it('delegate: cluster-event hands its step off (one step request on the wire, no Lease taken)', async () => {
    received.length = 0;
    const { fns, calls } = compose({ REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl }, [
      'cluster-event',
    ]);
    mountClusterEvent(fns.http, fns.clusterEvent);
    const res = await fns.http.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outcome: string; step: { kind: string } };
    assert.deepEqual([body.outcome, body.step.kind], ['stepped', 'handed-off']);
    assert.deepEqual(received, [
      {
        type: 'dev.rekey.step.requested',
        data: { provider: PROVIDER, requestedBy: 'cluster-event' },
      },
    ]);
    assert.equal(calls.leases, 0, 'the trigger function ran no step itself');
  });

  it('delegate: kms-event notes the rotation, then hands the step off', async () => {
    received.length = 0;
    const { fns, calls } = compose(
      { REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl, REKEY_KMS_EVENT_PRIVATE: 'true' },
      ['kms-event'],
    );
    mountKmsEvent(fns.http, fns.kmsEvent);
    const res = await fns.http.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-triggermesh-eventbridge.json'), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { outcome: string; step: { kind: string } };
    assert.deepEqual([body.outcome, body.step.kind], ['rotation', 'handed-off']);
    assert.deepEqual(
      received.map((e) => [e.type, e.data.requestedBy]),
      [['dev.rekey.step.requested', 'kms-event']],
    );
    assert.equal(calls.leases, 0);
  });

  it('delegate with the Broker down: the trigger event answers 503 so Knative redelivers it', async () => {
    const { fns, calls } = compose(
      { REKEY_STEP_MODE: 'delegate', K_SINK: `http://127.0.0.1:${await closedPort()}/` },
      ['cluster-event'],
    );
    mountClusterEvent(fns.http, fns.clusterEvent);
    const res = await fns.http.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 503);
    assert.ok(res.headers.get('retry-after'), 'Retry-After tells the sender when to retry');
    assert.equal(calls.leases, 0);
  });

  it('local: the trigger runs the step in its own request and requests none', async () => {
    received.length = 0;
    const { fns, calls } = compose({ REKEY_STEP_MODE: 'local', K_SINK: brokerUrl }, [
      'cluster-event',
    ]);
    mountClusterEvent(fns.http, fns.clusterEvent);
    const res = await fns.http.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { step: { kind: string; heldBy?: string } };
    assert.deepEqual(body.step, { kind: 'busy', provider: PROVIDER, heldBy: 'another-runner' });
    assert.equal(calls.leases, 1, 'one step, run here');
    assert.deepEqual(received, []);
  });

  it('/readyz reads no apiserver: it reports the snapshot the last step read, with its age', async () => {
    const adoption = {
      liveApiservers: ['a', 'b'],
      samples: [],
      metricsReadable: true,
    } as unknown as AdoptionSnapshot;
    const details = async (f: ReturnType<typeof compose>) =>
      ((await (await f.fns.http.request('/readyz')).json()) as { details: Json }).details;

    const handsOff = compose(
      { REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl, REKEY_KMS_EVENT_PRIVATE: 'true' },
      ['kms-event'],
      { adoption },
    );
    assert.equal((await details(handsOff)).adoption, undefined, 'it runs no step here');
    assert.equal(handsOff.calls.adoptionReads, 0);

    const reconciles = compose({ REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl }, ['reconcile'], {
      adoption,
    });
    assert.deepEqual((await details(reconciles)).adoption, {
      read: false,
      note: 'no step has read the apiservers yet in this process',
    });
    assert.equal(reconciles.calls.adoptionReads, 0, 'the probe read nothing');
    await reconciles.fns.deps.adoption.read(); // what a step does
    const after = (await details(reconciles)).adoption as Json;
    assert.deepEqual(
      [after.read, after.liveApiservers, after.metricsReadable, typeof after.ageSeconds],
      [true, 2, true, 'number'],
    );
    assert.equal(reconciles.calls.adoptionReads, 1, 'only the step read them');
  });

  it('/readyz of a function reachable from outside answers { ready } alone, no details', async () => {
    const readyz = async (f: ReturnType<typeof compose>) =>
      (await (await f.fns.http.request('/readyz')).json()) as Json;
    const base = { REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl };
    const publicKmsEvent = await readyz(compose(base, ['kms-event']));
    assert.deepEqual(publicKmsEvent, { ready: true }, 'a public kms-event shows no details');
    const webhook = await readyz(compose(base, ['webhook']));
    assert.deepEqual(webhook, { ready: true }, 'the webhook is public in infra/');
    const privateKmsEvent = await readyz(
      compose({ ...base, REKEY_KMS_EVENT_PRIVATE: 'true' }, ['kms-event']),
    );
    assert.equal(privateKmsEvent.ready, true);
    assert.equal(
      (privateKmsEvent.details as Json).senderAuthentication,
      'off',
      'a cluster-local face keeps its details for operators',
    );
  });

  it('/readyz answers 200 without contacting an apiserver whose /metrics hangs', async (t) => {
    // a server that accepts connections and never answers: every apiserver call would hang
    const sockets: Socket[] = [];
    const hanging = createTcpServer((s) => void sockets.push(s));
    await new Promise<void>((r) => hanging.listen(0, '127.0.0.1', r));
    const url = `https://127.0.0.1:${(hanging.address() as AddressInfo).port}`;
    const rekey = composeApp(
      loadConfig({ REKEY_PROVIDER: PROVIDER, LOG_LEVEL: 'fatal', REKEY_APISERVER_URLS: url }),
      { connection: { server: url, authorize: async () => {} } },
    );
    t.after(() => {
      rekey.close();
      for (const s of sockets) s.destroy();
      hanging.close();
    });
    const fns = rekey.functions('reconcile', ['reconcile']);
    const res = await fns.http.request('/readyz');
    assert.equal(res.status, 200);
    assert.equal(sockets.length, 0, 'the probe made no request to the apiserver');
  });

  it('outgoing webhooks: a receiver that is down fails no trigger and no emit, and is counted', async () => {
    received.length = 0;
    const { fns } = compose(
      {
        REKEY_STEP_MODE: 'delegate',
        K_SINK: brokerUrl,
        REKEY_OUTGOING_WEBHOOK_URLS: `http://127.0.0.1:${await closedPort()}/hook`,
        REKEY_OUTGOING_WEBHOOK_SECRETS: WEBHOOK_SECRET,
      },
      ['cluster-event'],
    );
    mountClusterEvent(fns.http, fns.clusterEvent);
    const res = await fns.http.request(
      '/cluster-event',
      cloudEventRequest(REPORT_CHANGE(), 'binary'),
    );
    assert.equal(res.status, 200, 'the trigger handed its step off');
    await fns.reconcile.continueLater({
      provider: PROVIDER,
      revision: 'encryption-key-aws-kms-1',
      keyIdHash: 'sha256:00',
      counts: {
        listed: 1,
        reencrypted: 1,
        unchanged: 0,
        conflicts: 0,
        gone: 0,
        failed: 0,
        retried: 0,
        alreadyCurrent: 0,
      },
    });
    await fns.events.emit('migration.completed', {
      provider: PROVIDER,
      revision: 'encryption-key-aws-kms-1',
      keyIdHash: 'sha256:00',
    });
    assert.deepEqual(
      received.map((e) => e.type),
      ['dev.rekey.step.requested', 'dev.rekey.migration.slice', 'dev.rekey.migration.completed'],
      'the Broker got every event',
    );
    assert.match(
      await fns.metrics.render(),
      /rekey_outgoing_webhooks_total\{type="dev.rekey.migration.completed",outcome="failed",function="cluster-event"\} 1/,
    );
  });

  it('outgoing webhooks carry the public event types only, never the internal continuations', async (t) => {
    const hooked: string[] = [];
    const hook = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        hooked.push((JSON.parse(body) as { type: string }).type);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    t.after(() => hook.close());
    const { fns } = compose(
      {
        REKEY_STEP_MODE: 'delegate',
        K_SINK: brokerUrl,
        REKEY_OUTGOING_WEBHOOK_URLS: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`,
        REKEY_OUTGOING_WEBHOOK_SECRETS: WEBHOOK_SECRET,
      },
      ['cluster-event'],
    );
    const revision = {
      provider: PROVIDER,
      revision: 'encryption-key-aws-kms-1',
      keyIdHash: 'sha256:00',
    };
    const counts = {
      listed: 1,
      reencrypted: 1,
      unchanged: 0,
      conflicts: 0,
      gone: 0,
      failed: 0,
      retried: 0,
      alreadyCurrent: 0,
    };
    await fns.events.emit('step.requested', { provider: PROVIDER, requestedBy: 'cluster-event' });
    await fns.events.emit('migration.slice', { ...revision, counts });
    await fns.events.emit('revision.created', revision);
    await fns.events.emit('migration.degraded', { ...revision, reason: 'x' });
    await fns.events.emit('verification.completed', revision);
    await fns.events.emit('migration.completed', revision);
    await fns.events.emit('key.danger', {
      provider: PROVIDER,
      what: 'deleted',
      key: 'k',
      at: 'now',
    });
    assert.deepEqual(hooked, [
      'dev.rekey.revision.created',
      'dev.rekey.migration.degraded',
      'dev.rekey.verification.completed',
      'dev.rekey.migration.completed',
      'dev.rekey.key.danger',
    ]);
  });

  it('sender authentication skips exactly the signed webhook and the shared-secret kms-event paths', () => {
    assert.deepEqual([...UNAUTHENTICATED_PATHS].sort(), [
      '/kms-event/eventbridge',
      '/kms-event/eventgrid',
      '/webhook',
    ]);
  });

  it('kms-event without sender identity and not declared private answers 401 on every path, running nothing', async () => {
    received.length = 0;
    const { fns, calls } = compose({ REKEY_STEP_MODE: 'delegate', K_SINK: brokerUrl }, [
      'kms-event',
    ]);
    assert.equal(fns.kmsEvent.cloudEvents, 'none');
    mountKmsEvent(fns.http, fns.kmsEvent);
    const ce = await fns.http.request(
      '/kms-event',
      cloudEventRequest(fixture('ce-knative-aws-sqs-sns.json'), 'binary'),
    );
    assert.equal(ce.status, 401);
    for (const path of ['/kms-event/eventbridge', '/kms-event/eventgrid']) {
      const res = await fns.http.request(path, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '[]',
      });
      assert.equal(res.status, 401, path);
    }
    assert.deepEqual(received, [], 'no step was requested');
    assert.equal(calls.leases, 0);
  });

  it('/webhook is composed only with REKEY_WEBHOOK_SECRETS, and rotate only with a rotator', async () => {
    assert.equal(compose({}, ['webhook']).fns.webhook, undefined);
    const withoutRotator = compose({ REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET }, ['webhook']).fns;
    assert.ok(withoutRotator.webhook);
    assert.equal(withoutRotator.webhook.deps.rotate, undefined);

    const rotations: string[] = [];
    const rotator: KmsRotator = {
      describe: 'test',
      rotate: async () => {
        rotations.push('rotate');
        return { key: 'arn:aws:kms:us-west-2:111122223333:key/k', current: 'material-2' };
      },
    };
    const { fns, calls } = compose({ REKEY_WEBHOOK_SECRETS: WEBHOOK_SECRET }, ['webhook'], {
      rotator,
    });
    assert.ok(fns.webhook);
    mountWebhook(fns.http, fns.webhook.deps, fns.webhook.verify);
    const res = await fns.http.request(
      '/webhook',
      signedWebhook(WEBHOOK_SECRET, 'msg_rotate_1', { command: 'rotate' }),
    );
    assert.equal(res.status, 200);
    const body = (await res.json()) as { result: { current: string; step: { kind: string } } };
    assert.deepEqual([body.result.current, body.result.step.kind], ['material-2', 'busy']);
    assert.deepEqual([rotations.length, calls.leases], [1, 1], 'rotated, then one step');
  });
});
