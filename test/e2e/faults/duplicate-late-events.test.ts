// Fault 6: duplicate, late and reordered events mid-migration, as Knative's at-least-once delivery
// may bring them: the same continuation twice at once, an old continuation after newer ones, a
// continuation of the previous rotation's revision (each posted to the real Broker's ingress,
// which routes them by infra/'s Triggers to reconcile), and an AWS rotation event twice followed
// by an older rotation (posted to kms-event's address, as the cloud source would: the sandbox
// overlay routes no AWS events through the Broker). Every step re-reads its state, so nothing may
// be redone wrongly or recorded twice.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import { postEvent, type SourceEvent } from '../../faults/post-event.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { type Arrival, CONTINUATION_TYPE } from '../../faults/step-gate.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { kubeconfigVia } from '../../faults/via-proxy.ts';
import { startWriters } from '../../faults/writers.ts';
import { eventFixture, triggermeshEvent } from '../../support/event-fixtures.ts';
import { type LatencyProxy, startLatencyProxy } from '../../support/latency-proxy.ts';

const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
// kms-event hands its step to reconcile through the Broker and answers 503 when that hand-off is
// not taken within 10 s (the channel delivers synchronously): the cloud source retries, as it would
const SOURCE_RETRIES = 12;
// Every request of rekey's 10 ms slower each way: a 1 s step then rewrites at most about 50 objects
// (one patch at a time), so the steps this test lets through one by one cannot finish the migration
// before the events are injected, however idle the machine (a bound set by the delay, not a race).
const FLOOR_DELAY_MS = 10;

describe('fault: duplicate, late and reordered events', () => {
  let r: Rotation;
  let proxy: LatencyProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'events', kmsEvent: { REKEY_KMS_KEY: AWS_KEY } });
    const a = r.sb.env.apiservers[0];
    if (!a) throw new Error('no apiserver');
    proxy = await startLatencyProxy({ host: a.host, port: a.port }, { delayMs: FLOOR_DELAY_MS });
  });
  after(async () => {
    await r?.close();
    await proxy?.close();
  });

  // The scope is what the EncryptionConfiguration encrypts (secrets and configmaps): the check on
  // double counting compares the secrets' own checkpoint with the secrets in the cluster.
  it('redoes nothing wrongly and records nothing twice; completes, nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    const served = await r.serve({
      REKEY_KMS_KEY: AWS_KEY,
      KUBECONFIG: kubeconfigVia(r, proxy.url, 'events'),
    });
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.3);
    // rekey is held mid-way; steps go through one at a time until it has emitted two
    // continuations (they reach the gate through the Broker), so the events below land on a
    // migration that cannot have finished
    const seen = () =>
      served.gate.arrivals.filter(
        (e) => e.type === CONTINUATION_TYPE && e.source === 'rekey/reconcile',
      );
    while (seen().length < 2) {
      await served.gate.step();
      const now = await progress.newest();
      if (now?.phase !== 'Migrating') throw new Error(`no longer migrating: ${now?.phase}`);
    }
    const slices = seen();
    const again = (a: Arrival | undefined): SourceEvent => {
      if (!a) throw new Error('no continuation seen');
      return { type: a.type, source: a.source, id: a.id, data: JSON.parse(a.data) };
    };
    const [oldest, newest] = [again(slices[0]), again(slices.at(-1))];
    const stored = await r.monitor.deps.store.list(r.sb.env.kms.providerName);
    const k1 = stored.map((s) => s.revision).find((x) => x.number === 1);
    if (!k1) throw new Error('no baseline revision');
    const previous: SourceEvent = {
      type: CONTINUATION_TYPE,
      source: newest.source,
      id: 'continuation-of-the-previous-rotation',
      data: { provider: k1.provider, revision: k1.name, keyIdHash: k1.keyIdHash },
    };
    const broker = r.tier.knative.brokerUrl;
    const kmsEventUrl = `${r.tier.knative.services['rekey-kms-event']}/kms-event`;
    const toBroker = (ev: SourceEvent) => postEvent(broker, ev);
    const toKmsEvent = (ev: SourceEvent) => postEvent(kmsEventUrl, ev, { retries: SOURCE_RETRIES });
    const event = triggermeshEvent();
    const olderRotation = {
      ...event,
      id: 'older',
      data: eventFixture('aws-cmk-rotation-legacy.json'),
    };

    // the gate lets steps through again: kms-event's hand-off and the Broker's deliveries wait on
    // reconcile's answers (the channel is synchronous). The 10 ms floor per request keeps the
    // migration going well past the injection (a bound set by the delay, not a race).
    r.resume();
    const injectedAt = Date.now();
    const first = await toKmsEvent(event);
    // then all at once, in an order no sender would choose
    const burstSent = Promise.all([
      toBroker(newest),
      toBroker(newest),
      toKmsEvent(olderRotation),
      toBroker(oldest),
      toKmsEvent(event),
      toBroker(previous),
      toBroker(oldest),
    ]);

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    const burst = await burstSent;
    const direct = [first, burst[2], burst[4]].flatMap((a) => (a ? [a] : []));
    const viaBroker = [burst[0], burst[1], burst[3], burst[5], burst[6]].flatMap((a) =>
      a ? [a] : [],
    );
    const dupReason = (JSON.parse(burst[4]?.body || '{}') as { reason?: string }).reason ?? '';
    // what reached reconcile of the injected continuations, by id, with reconcile's answers
    const injectedIds = new Set([newest.id, oldest.id, previous.id]);
    const reached = new Map<string, number[]>();
    for (const a of served.gate.arrivals.filter((x) => x.at >= injectedAt && injectedIds.has(x.id)))
      reached.set(a.id, [...(reached.get(a.id) ?? []), a.status ?? 0]);
    const reachedText = [...reached].map(([id, s]) => `${id}:${s.join('/')}`).join(' ');
    const revisions = (await r.monitor.deps.store.list(r.sb.env.kms.providerName)).map(
      (s) => s.revision,
    );
    const notes = revisions.flatMap((x) => (x.kmsRotation ? [x.kmsRotation.verdict] : []));
    const all = proof.final ? summariseProgress(proof.final.progress).counts : undefined;
    const counts = proof.final?.progress.resources.find((x) => x.resource === 'secrets')?.counts;
    const inCluster = (await r.api.listSecretForAllNamespaces()).items.length;
    const outcomes =
      (counts?.reencrypted ?? 0) +
      (counts?.unchanged ?? 0) +
      (counts?.conflicts ?? 0) +
      (counts?.alreadyCurrent ?? 0);
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '6. duplicate, late and reordered events',
        injected: `at ${at.listed}/${at.total} listed: 1 AWS rotation event, then at once 2x the newest continuation, 2x the oldest, 1 of the previous revision, the rotation again, an older rotation`,
        recoverSeconds: progress.recoveredAfter(injectedAt) ?? null,
        details: {
          kmsEventAnswers: direct.map((a) => `${a.status}x${a.attempts}`).join(' '),
          ingressAnswers: viaBroker.map((a) => a.status).join(' '),
          reachedReconcile: reachedText,
          revisions: revisions.length,
          kmsNotes: notes.join(' '),
          listed: counts?.listed ?? -1,
          listedInScope: all?.listed ?? -1,
          secretsInCluster: inCluster,
          writes: writers.record.writes,
        },
      },
      {
        [`kms-event answered every rotation event 200, the source retrying (${direct.map((a) => `${a.status}x${a.attempts}`).join(' ')})`]:
          direct.length === 3 && direct.every((a) => a.status === 200),
        [`the Broker took every injected continuation (${viaBroker.map((a) => a.status).join(' ')})`]:
          viaBroker.length === 5 && viaBroker.every((a) => a.status >= 200 && a.status < 300),
        [`each injected continuation reached reconcile through the Trigger (${reachedText})`]:
          injectedIds.size === 3 && [...injectedIds].every((id) => reached.has(id)),
        [`no revision added or reopened (${revisions.map((x) => `${x.number}:${x.phase}`).join(' ')})`]:
          revisions.length === 2 && revisions.some((x) => x.keyIdHash === keyIdHash(r.k2)),
        [`the rotation is noted once (${notes.join(' ')})`]: notes.length === 1,
        [`the repeated rotation event is answered as a duplicate (${dupReason})`]: /duplicate/.test(
          dupReason,
        ),
        'the checkpoint never went backwards': progress.monotonic(),
        [`no secret listed twice (${counts?.listed} listed, ${inCluster} secrets)`]:
          (counts?.listed ?? Infinity) <= inCluster,
        [`each listed object has one outcome (${JSON.stringify(counts)})`]:
          counts !== undefined && outcomes + counts.gone + counts.failed === counts.listed,
      },
    );
  });
});
