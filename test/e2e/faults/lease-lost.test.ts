// Fault 9: the provider's Lease is taken from rekey while a step is rewriting a page. The step
// must notice at its next renewal and stop where it stands (the page it was on uncounted), no later
// step may work while the other holder keeps the Lease, and once it is given up a later step goes
// on from the checkpoint: nothing lost, nothing skipped. Every patch goes through a proxy adding
// DELAY_MS each way, so a step cannot outrun the renewal: a bound set by the delay, not a race.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import { CoordinationV1Api } from '@kubernetes/client-node';
import { summariseProgress } from '../../../shared/domain/migration-progress.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import type { FaultServedRekey } from '../../faults/served-rekey.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { kubeconfigVia } from '../../faults/via-proxy.ts';
import { startWriters } from '../../faults/writers.ts';
import { kubeConfig, mergePatch } from '../../support/kube.ts';
import { type LatencyProxy, startLatencyProxy } from '../../support/latency-proxy.ts';
import { STATE_NAMESPACE } from '../../support/rekey-fixture.ts';
import { waitFor } from '../../support/sandbox/net.ts';

// the provider's Lease is one of rekey's records, in its state namespace
const NAMESPACE = STATE_NAMESPACE;
const THIEF = 'fault-test-thief';
const DELAY_MS = 100;
// A step's Lease lives max(30 s, 2 x budget) and is renewed every third of that (about 17 s here);
// with every patch costing at least 2 x DELAY_MS, the step's pages after the theft outlast that
// renewal, so it is the renewal, refused, that must end the step.
const BUDGET_SECONDS = 25;

describe('fault: the Lease lost in the middle of a page', () => {
  let r: Rotation;
  let proxy: LatencyProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'lease' });
    const a = r.sb.env.apiservers[0];
    if (!a) throw new Error('no apiserver');
    proxy = await startLatencyProxy({ host: a.host, port: a.port }, { delayMs: DELAY_MS });
  });
  after(async () => {
    await r?.close();
    await proxy?.close();
  });

  it('the step stops, no step works while another holds it, a later step completes: nothing lost', async (t) => {
    const leases = kubeConfig(r.sb.env).makeApiClient(CoordinationV1Api);
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve({
      KUBECONFIG: kubeconfigVia(r, proxy.url, 'lease'),
      REKEY_APISERVER_URLS: proxy.url,
      REKEY_BUDGET_SECONDS: String(BUDGET_SECONDS),
    });
    const progress = r.progress as ProgressLog;
    const gate = (r.served as FaultServedRekey).gate;
    const at = await r.midMigration(0.1);
    const listedOf = async () => {
      const now = await progress.newest();
      return now ? summariseProgress(now.progress).counts.listed : -1;
    };

    // one step let through; once it holds the Lease, another holder takes it over
    const holderOf = async () =>
      (await leases.listNamespacedLease({ namespace: NAMESPACE })).items.find((l) =>
        l.metadata?.name?.startsWith('rekey-'),
      );
    const before = (await holderOf())?.spec?.holderIdentity;
    r.resume();
    await gate.inFlight();
    // the step's budget runs from its start, which is after this: a step that ignored the theft
    // would end at least its budget after this moment
    const admittedAt = Date.now();
    const stepDone = gate.hold(); // nothing more let through; resolves once the step answered
    const held = await waitFor(
      'the step to hold the Lease',
      async () => {
        const l = await holderOf();
        const h = l?.spec?.holderIdentity;
        return h && h !== before ? l : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const name = held.metadata?.name as string;
    const listedAtTheft = await listedOf();
    // another holder, for an hour from the step's own last renewal: the step's next renewal is refused
    await leases.patchNamespacedLease(
      {
        name,
        namespace: NAMESPACE,
        body: {
          metadata: { resourceVersion: held.metadata?.resourceVersion },
          spec: { holderIdentity: THIEF, leaseDurationSeconds: 3600 },
        },
      },
      mergePatch,
    );
    const stolenAt = Date.now();
    await stepDone;
    const stepEndedAfter = (Date.now() - stolenAt) / 1000;
    const stepSeconds = (Date.now() - admittedAt) / 1000;
    const listedAfterStop = await listedOf();
    await gate.step();
    const listedWhileStolen = await listedOf();
    const stillThief = (await leases.readNamespacedLease({ name, namespace: NAMESPACE })).spec
      ?.holderIdentity;

    await leases.deleteNamespacedLease({ name, namespace: NAMESPACE });
    proxy.setDelay(0);
    const givenUpAt = Date.now();
    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '9. Lease lost mid-page',
        injected: `the provider's Lease taken over by another holder during a step at ${listedAtTheft}/${at.total} listed (+${DELAY_MS} ms each way, step budget ${BUDGET_SECONDS} s), given up after ${((givenUpAt - stolenAt) / 1000).toFixed(0)} s`,
        recoverSeconds: progress.recoveredAfter(givenUpAt) ?? null,
        details: {
          stepEndedAfterTheftSeconds: Number(stepEndedAfter.toFixed(1)),
          stepSeconds: Number(stepSeconds.toFixed(1)),
          listedAtTheft,
          listedAfterStop,
          listedWhileStolen,
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`the step stopped before its ${BUDGET_SECONDS} s budget (${stepSeconds.toFixed(1)} s after it was let through, ${stepEndedAfter.toFixed(1)} s after the theft)`]:
          stepSeconds < BUDGET_SECONDS,
        [`no step worked while the other holder kept the Lease (${listedAfterStop} -> ${listedWhileStolen} listed)`]:
          listedWhileStolen === listedAfterStop,
        [`the other holder still held it (${stillThief})`]: stillThief === THIEF,
        'the checkpoint never went backwards': progress.monotonic(),
      },
    );
  });
});
