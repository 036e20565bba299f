// Fault 13: etcd unreachable from rekey for 60 s from mid-migration, through where verification
// would come, the cluster itself healthy (rekey's etcd endpoint goes through a proxy the test
// cuts). rekey must not spin while it cannot verify: once it stops migrating, the steps it takes
// while cut are bounded by the 2 s ticks, not by how fast it can fail. Once etcd is reachable
// again it verifies and completes, nothing lost.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import { type CutProxy, startCutProxy } from '../../faults/cut-proxy.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import type { FaultServedRekey } from '../../faults/served-rekey.ts';
import { STEP_REQUEST_TYPE } from '../../faults/step-gate.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWriters } from '../../faults/writers.ts';
import { waitFor } from '../../support/sandbox/net.ts';

const CUT_MS = 60_000;
const TICK_MS = 2_000;
/** One step per tick over `ms`, and a few more for the continuation of the last page. */
const maxSteps = (ms: number) => Math.ceil(ms / TICK_MS) + 5;
/** On the real tier a revision save is reported by the ApiServerSource and cluster-event asks for a
 * step: at most one request per save (and a few already on their way), or the loop would spin. */
const maxRequests = (saves: number) => saves + 5;

describe('fault: etcd unreachable from rekey for 60 s', () => {
  let r: Rotation;
  let proxy: CutProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'etcdcut' });
    const u = new URL(r.sb.env.etcd.url);
    proxy = await startCutProxy({ host: u.hostname, port: Number(u.port) });
  });
  after(async () => {
    await r?.close();
    await proxy?.close();
  });

  it('does not spin while it cannot verify, then verifies: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve({ REKEY_ETCD_ENDPOINTS: proxy.url });
    const progress = r.progress as ProgressLog;
    const gate = (r.served as FaultServedRekey).gate;
    // held mid-way; the rest of the migration (well under the cut) runs while etcd is cut, so
    // rekey reaches verification without it
    const at = await r.midMigration(0.3);
    proxy.cut(true);
    const cutAt = Date.now();
    r.resume();
    await waitFor('rekey to try etcd', async () => proxy.refused() > 0 || undefined, {
      timeoutMs: CUT_MS,
    });
    // rekey stops migrating: Degraded (it holds still while it cannot reach etcd) or past it
    await progress.waitFor('rekey to leave Migrating', (x) => x.phase !== 'Migrating', CUT_MS);
    const haltedAt = Date.now();
    // the cut's length is the fault's definition; nothing here waits on rekey's speed
    await new Promise((res) => setTimeout(res, Math.max(0, cutAt + CUT_MS - Date.now())));
    // the steps reconcile answered in the window, by what the Broker delivered
    const answered = gate.arrivals.filter(
      (a) => a.at >= haltedAt && !a.refused && a.status !== undefined,
    );
    const steps = answered.filter((a) => a.type !== STEP_REQUEST_TYPE).length;
    const requests = answered.length - steps;
    const bound = maxSteps(Date.now() - haltedAt);
    const saves = progress.samples.filter((s) => s.savedAt >= haltedAt).length;
    const phaseWhileCut = (await progress.newest())?.phase;
    proxy.cut(false);
    const joinedAt = Date.now();

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '13. etcd unreachable from rekey for 60 s',
        injected: `rekey's etcd path cut for ${((joinedAt - cutAt) / 1000).toFixed(0)} s from ${at.listed}/${at.total} listed (the cluster's own etcd path healthy)`,
        recoverSeconds: progress.recoveredAfter(joinedAt) ?? null,
        details: {
          verifyWindowSeconds: Number(((Date.now() - haltedAt) / 1000).toFixed(0)),
          stepsWhileCantVerify: steps,
          stepRequestsWhileCantVerify: requests,
          revisionSavesWhileCantVerify: saves,
          connectionsRefused: proxy.refused(),
          phaseWhileCut: phaseWhileCut ?? 'none',
          writes: writers.record.writes,
        },
      },
      {
        [`rekey tried etcd while cut (${proxy.refused()} connections refused)`]:
          proxy.refused() > 0,
        [`no spin: ${steps} steps from ticks and continuations once all listed and etcd cut, at most ${bound}`]:
          steps <= bound,
        [`no loop through the Broker: ${requests} step requests for ${saves} revision saves, at most ${maxRequests(saves)}`]:
          requests <= maxRequests(saves),
        [`not Completed while etcd was unreachable (${phaseWhileCut})`]:
          phaseWhileCut !== 'Completed',
      },
    );
  });
});
