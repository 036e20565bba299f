// infra/'s Triggers against what the real sources emit, through the real Broker (the Knative tier
// of `sandbox up --knative`, with a recording receiver standing at each Knative Service's address
// instead of rekey's functions): a revision Secret's add, update and delete and a key-id report
// from the ApiServerSource reach cluster-event at /cluster-event, a PingSource tick and a step
// request reach reconcile at /reconcile, and nothing else reaches either. A Trigger whose filter
// did not match its real source (a type or source written from a fixture that differs from what
// Knative emits) fails here. Then the Triggers' delivery policies, as Knative's dispatcher applies
// them: a 503 is retried with the Trigger's exponential backoff, a 422 is not retried and lands
// in the dead-letter sink.
import '../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Delivery, type Recorder, startRecorder } from '../support/knative/recorder.ts';
import { upKnative } from '../support/knative/up.ts';
import { coreApi } from '../support/kube.ts';
import type { KnativeEnv } from '../support/sandbox/env-file.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { rotate } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

const SERVICES = [
  'rekey-reconcile',
  'rekey-cluster-event',
  'rekey-kms-event',
  'rekey-webhook',
  'rekey-dead-letters',
] as const;
type ServiceName = (typeof SERVICES)[number];

/** Step requests whose id starts so are answered with the status after the prefix (once per try). */
const FAIL_PREFIX = 'answer-';

describe('infra/ Triggers on the real Knative Broker, with the real sources', () => {
  let sb: TestSandbox;
  let knative: KnativeEnv;
  const at = {} as Record<ServiceName, Recorder>;

  before(async () => {
    sb = await startSandbox();
    for (const s of SERVICES) {
      at[s] = await startRecorder((d, all) => {
        const id = d.attributes.id ?? '';
        if (!id.startsWith(FAIL_PREFIX)) return 202;
        // `answer-<status>-<times>-<n>`: <status> for the first <times> tries, then 202
        const [, status, times] = id.split('-');
        const tries = all.filter((x) => x.attributes.id === id).length;
        return tries <= Number(times) ? Number(status) : 202;
      });
    }
    knative = await upKnative(sb.env, {
      serviceUrls: Object.fromEntries(SERVICES.map((s) => [s, at[s].url])),
    });
  });
  after(async () => {
    for (const s of SERVICES) await at[s]?.close();
    await sb?.stop();
  });

  const arrived = (s: ServiceName, match: (d: Delivery) => boolean, what: string) =>
    waitFor(`${what} at ${s}`, async () => at[s].deliveries.find(match), {
      timeoutMs: 150_000,
      intervalMs: 500,
    }).catch((err) => {
      const got = at[s].deliveries.map(
        (d) => `${d.path} ${d.attributes.type} ${d.attributes.subject ?? d.attributes.source}`,
      );
      throw new Error(`${(err as Error).message}; it received:\n${got.join('\n')}`);
    });

  it('ApiServerSource events about revision Secrets reach cluster-event, add, update, delete', async () => {
    // the adapter reports no object that existed before it started, nor changes made while it
    // starts its watches: probe until a new revision Secret is reported
    const probes = coreApi(sb.env);
    await waitFor(
      'the ApiServerSource adapter to report a new revision Secret',
      async () => {
        const probe = `rekey-revision-probe-${Date.now()}`;
        await probes.createNamespacedSecret({
          namespace: 'rekey-state',
          body: { metadata: { name: probe, labels: { 'rekey.dev/revision': 'true' } } },
        });
        const subject = `/apis/v1/namespaces/rekey-state/secrets/${probe}`;
        const until = Date.now() + 10_000;
        while (Date.now() < until) {
          if (at['rekey-cluster-event'].deliveries.some((d) => d.attributes.subject === subject)) {
            return true;
          }
          await new Promise((r) => setTimeout(r, 250));
        }
        return undefined;
      },
      { timeoutMs: 150_000, intervalMs: 0 },
    );
    const core = coreApi(sb.env);
    const name = 'rekey-revision-filter-test';
    const subject = `/apis/v1/namespaces/rekey-state/secrets/${name}`;
    await core.createNamespacedSecret({
      namespace: 'rekey-state',
      body: {
        metadata: { name, labels: { 'rekey.dev/revision': 'true' } },
        stringData: { a: '1' },
      },
    });
    for (const verb of ['add', 'update', 'delete'] as const) {
      if (verb === 'update') {
        await core.replaceNamespacedSecret({
          name,
          namespace: 'rekey-state',
          body: {
            metadata: { name, labels: { 'rekey.dev/revision': 'true', touched: 'yes' } },
            stringData: { a: '2' },
          },
        });
      }
      if (verb === 'delete') await core.deleteNamespacedSecret({ name, namespace: 'rekey-state' });
      const d = await arrived(
        'rekey-cluster-event',
        (x) =>
          x.attributes.type === `dev.knative.apiserver.ref.${verb}` &&
          x.attributes.subject === subject,
        `the ref.${verb} of ${name}`,
      );
      assert.equal(d.path, '/cluster-event');
      assert.equal(d.attributes.kind, 'Secret');
      assert.equal(d.attributes.name, name);
      assert.equal(d.attributes.namespace, 'rekey-state');
    }
  });

  it("the key-id reporters' report ConfigMaps reach cluster-event", async () => {
    await rotate({ dir: sb.dir }); // the reporter rewrites its report for the new key_id
    const d = await arrived(
      'rekey-cluster-event',
      (x) =>
        x.attributes.type === 'dev.knative.apiserver.ref.update' &&
        /^\/apis\/v1\/namespaces\/rekey-system\/configmaps\/key-id-report-/.test(
          x.attributes.subject ?? '',
        ),
      'a key-id report event',
    );
    assert.equal(d.path, '/cluster-event');
    assert.equal(d.attributes.kind, 'ConfigMap');
  });

  it('PingSource ticks reach reconcile', async () => {
    const d = await arrived(
      'rekey-reconcile',
      (x) => x.attributes.type === 'dev.knative.sources.ping',
      'a PingSource tick',
    );
    assert.equal(d.path, '/reconcile');
    assert.equal(d.attributes.source, '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick');
  });

  it("rekey's own step requests and continuations reach reconcile", async () => {
    for (const type of ['dev.rekey.step.requested', 'dev.rekey.migration.slice']) {
      const r = await fetch(knative.brokerUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-type': type,
          'ce-source': 'rekey/filter-test',
          'ce-id': `filter-test-${type}`,
        },
        body: '{}',
      });
      assert.equal(r.status, 202, `the Broker accepted ${type}`);
      const d = await arrived('rekey-reconcile', (x) => x.attributes.type === type, type);
      assert.equal(d.path, '/reconcile');
    }
  });

  it('nothing reaches a function that no Trigger routes it to', () => {
    const types = (s: ServiceName) => new Set(at[s].deliveries.map((d) => d.attributes.type));
    for (const t of types('rekey-cluster-event'))
      assert.match(t ?? '', /^dev\.knative\.apiserver\.ref\./);
    for (const t of types('rekey-reconcile')) {
      assert.match(
        t ?? '',
        /^(dev\.knative\.sources\.ping|dev\.rekey\.(step\.requested|migration\.slice))$/,
      );
    }
    assert.equal(at['rekey-kms-event'].deliveries.length, 0);
    assert.equal(at['rekey-webhook'].deliveries.length, 0);
  });

  it("a 503 is retried with the Trigger's backoff; a 422 goes to the dead-letter sink", async () => {
    const send = (id: string) =>
      fetch(knative.brokerUrl, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'ce-specversion': '1.0',
          'ce-type': 'dev.rekey.step.requested',
          'ce-source': 'rekey/retry-test',
          'ce-id': id,
        },
        body: '{}',
      });
    // rekey-reconcile-request: retry 6, exponential, PT2S: tries 2 s, then 4 s apart
    const retried = `${FAIL_PREFIX}503-2-a`;
    await send(retried);
    await waitFor(
      'the third try of the 503-answered event',
      async () =>
        at['rekey-reconcile'].deliveries.filter((d) => d.attributes.id === retried).length >= 3
          ? true
          : undefined,
      { timeoutMs: 120_000, intervalMs: 500 },
    );
    const tries = at['rekey-reconcile'].deliveries.filter((d) => d.attributes.id === retried);
    const gaps = tries.slice(1).map((d, i) => d.at - (tries[i] as Delivery).at);
    assert.ok((gaps[0] ?? 0) >= 1500, `first retry after the 2 s backoff, got ${gaps[0]} ms`);
    assert.ok((gaps[1] ?? 0) >= 3500, `second retry after 4 s (exponential), got ${gaps[1]} ms`);

    const refused = `${FAIL_PREFIX}422-9-b`;
    await send(refused);
    const dead = await arrived(
      'rekey-dead-letters',
      (d) => d.attributes.id === refused,
      'the 422-answered event in the dead-letter sink',
    );
    assert.equal(dead.attributes.knativeerrorcode, '422');
    assert.equal(
      at['rekey-reconcile'].deliveries.filter((d) => d.attributes.id === refused).length,
      1,
      'a 422 is not retried',
    );
  });
});
