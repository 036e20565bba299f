// End to end, as Knative would drive rekey: `rekey serve` hosts the functions; an AWS rotation
// event (TriggerMesh form) arrives at /kms-event, duplicated and followed by an older one; the
// reconcile function's continuation events go through a broker back to /reconcile; PingSource
// ticks keep it going; the rotation completes, proven from etcd.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { etcdSummary } from '../support/etcd-keys.ts';
import { eventFixture, triggermeshEvent } from '../support/event-fixtures.ts';
import { type Broker, deliver } from '../support/knative-broker.ts';
import { coreApi } from '../support/kube.ts';
import { type RekeyUnderTest, rekeyFor } from '../support/rekey-fixture.ts';
import { type ServedRekey, serveRekey } from '../support/rekey-serve.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { waitForObservation } from '../support/settle.ts';

const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('e2e: an AWS rotation event drives a full rotation through the functions', () => {
  let sb: TestSandbox;
  let served: ServedRekey;
  let base: string;
  let broker: Broker;
  let rekey: RekeyUnderTest;

  before(async () => {
    sb = await startSandbox();
    await seedMany(coreApi(sb.env), { namespaces: 3, perNamespace: 100, prefix: 'e2e' });
    served = await serveRekey(sb.env, sb.dir, { REKEY_KMS_KEY: AWS_KEY });
    base = served.base;
    broker = served.broker;
    rekey = rekeyFor(sb.env);
  });
  after(async () => {
    await served?.stop();
    rekey?.close();
    await sb?.stop();
  });

  async function newest() {
    const all = await rekey.deps.store.list(sb.env.kms.providerName);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  }

  const tickUntil = (done: () => Promise<boolean>, limitMs: number) =>
    served.tickUntil(done, limitMs);

  it('completes the rotation, harmless under duplicate and reordered deliveries', async (t) => {
    await tickUntil(async () => (await newest())?.phase === 'Completed', 60_000); // baseline K1

    const k2 = await rotate({ dir: sb.dir });
    await waitForKeyId(k2, { dir: sb.dir });
    await waitForObservation(rekey, k2);

    const event = triggermeshEvent();
    const first = await deliver(`${base}/kms-event`, event);
    assert.equal(first.status, 200, first.body);
    const answer = JSON.parse(first.body) as { outcome: string; verdict?: string };
    assert.equal(answer.outcome, 'rotation');
    assert.equal(answer.verdict, 'key-id-changed', `${first.body}\n${served.output()}`);
    const dup = await deliver(`${base}/kms-event`, event); // Knative delivers at least once
    assert.equal(dup.status, 200, dup.body);
    assert.equal(JSON.parse(dup.body).outcome, 'rotation');
    const older = {
      ...event,
      id: 'older-event',
      data: eventFixture('aws-cmk-rotation-legacy.json'),
    };
    const late = await deliver(`${base}/kms-event`, older); // an older rotation, arriving late
    assert.equal(late.status, 200, late.body);

    await tickUntil(async () => {
      const r = await newest();
      return r?.keyIdHash === keyIdHash(k2) && (r.phase === 'Completed' || r.phase === 'Degraded');
    }, 240_000);
    const done = await newest();
    assert.equal(done?.phase, 'Completed', done?.lastError);
    assert.equal(done?.verification?.clean, true);
    const revisions = await rekey.deps.store.list(sb.env.kms.providerName);
    assert.equal(revisions.length, 2, 'duplicates and the late event created no extra revision');
    const notes = revisions.flatMap((s) =>
      s.revision.kmsRotation ? [s.revision.kmsRotation] : [],
    );
    assert.deepEqual(
      notes.map((n) => n.verdict),
      ['key-id-changed'],
      `the rotation is noted once; the duplicate and the older event change nothing: ${JSON.stringify(notes)} ${dup.body.slice(0, 300)} ${late.body.slice(0, 300)}`,
    );
    assert.match(JSON.parse(dup.body).reason ?? '', /duplicate/);

    const summary = await etcdSummary(sb.env);
    assert.deepEqual(
      summary.rows.map((r) => r.keyID),
      [k2],
    );

    const types = new Set(broker.events.map((e) => e.type));
    for (const ty of [
      'revision.created',
      'migration.slice',
      'verification.completed',
      'migration.completed',
    ]) {
      assert.ok(types.has(`dev.rekey.${ty}`), `emitted dev.rekey.${ty}: ${[...types].join(', ')}`);
    }
    for (const e of broker.events)
      assert.ok(!JSON.stringify(e.data).includes('local-'), 'events carry key_id hashes only');
    t.diagnostic(`broker saw ${broker.events.length} events: ${[...types].join(', ')}`);
  });

  it('records a rotation of a key the cluster does not use as unrelated, and rewrites nothing', async () => {
    const before = await newest();
    const other = triggermeshEvent();
    const data = structuredClone(other.data) as { resources: string[] };
    data.resources = [
      'arn:aws:kms:us-west-2:111122223333:key/ffffffff-0000-0000-0000-000000000000',
    ];
    const r = await deliver(`${base}/kms-event`, { ...other, id: 'other-key', data });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { outcome: string }).outcome, 'unrelated');
    const afterwards = await newest();
    assert.equal(afterwards?.name, before?.name);
    assert.equal(afterwards?.updatedAt, before?.updatedAt, 'the revision was not touched');
  });

  it('answers bad input with a clear 4xx and never a 5xx', async () => {
    const post = (path: string, init: RequestInit) =>
      fetch(`${base}${path}`, { method: 'POST', ...init });
    const notJson = await post('/kms-event', {
      headers: { 'content-type': 'application/cloudevents+json' },
      body: '{',
    });
    assert.equal(notJson.status, 400);
    const unknownType = await deliver(`${base}/kms-event`, {
      type: 'com.example.other',
      source: 'x',
      data: {},
    });
    assert.equal(unknownType.status, 422);
    const noCe = await post('/kms-event', {
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(noCe.status, 415);
    const raw = await post('/kms-event/eventbridge', {
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(raw.status, 401, 'raw EventBridge needs the shared secret');
    const wrongPing = await deliver(`${base}/reconcile`, {
      type: 'com.example.other',
      source: 'x',
      data: {},
    });
    assert.equal(wrongPing.status, 422);
    const resourceMode = await deliver(`${base}/cluster-event`, {
      type: 'dev.knative.apiserver.resource.update',
      source: 'x',
      data: { kind: 'Secret', data: { password: 'aGVsbG8=' } },
    });
    assert.equal(resourceMode.status, 422);
    assert.ok(!resourceMode.body.includes('aGVsbG8='), 'the secret value is not echoed');
    const health = await fetch(`${base}/healthz`);
    assert.equal(health.status, 200, 'still serving');
  });
});
