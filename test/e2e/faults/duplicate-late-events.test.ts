// Fault 6: duplicate, late and reordered events mid-migration, as Knative may deliver them: the
// same continuation twice at once, an old continuation after newer ones, a continuation of the
// previous rotation's revision, and an AWS rotation event twice followed by an older rotation.
// Every step re-reads its state, so nothing may be redone wrongly or recorded twice.
import { after, before, describe, it } from 'node:test';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { kubeconfigVia } from '../../faults/via-proxy.ts';
import { startWriters } from '../../faults/writers.ts';
import { eventFixture, triggermeshEvent } from '../../support/event-fixtures.ts';
import { deliver } from '../../support/knative-broker.ts';
import { type LatencyProxy, startLatencyProxy } from '../../support/latency-proxy.ts';

const AWS_KEY = 'arn:aws:kms:us-west-2:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SLICE = 'dev.rekey.migration.slice';
// Every request of rekey's 10 ms slower each way: a 1 s step then rewrites at most about 50 objects
// (one patch at a time), so the steps this test lets through one by one cannot finish the migration
// before the events are injected, however idle the machine (a bound set by the delay, not a race).
const FLOOR_DELAY_MS = 10;

describe('fault: duplicate, late and reordered events', () => {
  let r: Rotation;
  let proxy: LatencyProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'events' });
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
    // continuations, so the events below land on a migration that cannot have finished
    const seen = () => served.broker.events.filter((e) => e.type === SLICE);
    while (seen().length < 2) {
      await served.gate.step();
      const now = await progress.newest();
      if (now?.phase !== 'Migrating') throw new Error(`no longer migrating: ${now?.phase}`);
    }
    const slices = seen();
    const [oldest, newest] = [slices[0], slices.at(-1)];
    if (!oldest || !newest) throw new Error('no continuation seen');
    const stored = await r.monitor.deps.store.list(r.sb.env.kms.providerName);
    const k1 = stored.map((s) => s.revision).find((x) => x.number === 1);
    if (!k1) throw new Error('no baseline revision');
    const previous = {
      type: SLICE,
      source: newest.source,
      id: 'continuation-of-the-previous-rotation',
      data: { provider: k1.provider, revision: k1.name, keyIdHash: k1.keyIdHash },
    };
    const reconcile = `${served.base()}/reconcile`;
    const kmsEvent = `${served.base()}/kms-event`;
    const event = triggermeshEvent();
    const olderRotation = {
      ...event,
      id: 'older',
      data: eventFixture('aws-cmk-rotation-legacy.json'),
    };

    const injectedAt = Date.now();
    const first = await deliver(kmsEvent, event);
    // then all at once, in an order no sender would choose
    const burst = await Promise.all([
      deliver(reconcile, newest),
      deliver(reconcile, newest),
      deliver(kmsEvent, olderRotation),
      deliver(reconcile, oldest),
      deliver(kmsEvent, event),
      deliver(reconcile, previous),
      deliver(reconcile, oldest),
    ]);
    const answers = [first, ...burst];
    const dupReason = (JSON.parse(burst[4]?.body ?? '{}') as { reason?: string }).reason ?? '';

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
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
          answers: answers.map((a) => a.status).join(' '),
          revisions: revisions.length,
          kmsNotes: notes.join(' '),
          listed: counts?.listed ?? -1,
          listedInScope: all?.listed ?? -1,
          secretsInCluster: inCluster,
          writes: writers.record.writes,
        },
      },
      {
        [`every delivery answered 200 (${answers.map((a) => a.status).join(' ')})`]: answers.every(
          (a) => a.status === 200,
        ),
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
