// Fault 5: network latency between rekey and the apiserver. rekey talks to the apiserver only
// through a TCP proxy (TLS passes through, verified as usual); mid-migration the proxy starts
// adding 50 ms each way. The migration must still complete, slower, with nothing lost.
import '../../support/knative/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { kubeconfigVia } from '../../faults/via-proxy.ts';
import { startWriters } from '../../faults/writers.ts';
import { type LatencyProxy, startLatencyProxy } from '../../support/latency-proxy.ts';

const DELAY_MS = 50;
// Each step spends about 2 s at 50 ms each way on fixed work before its first page (Lease, key-id
// reports, revisions, a 1.9 MB /metrics scrape), twice the 1 s budget the fault tests use. rekey
// still rewrites one page per step (it did not, until this test found the livelock), so the
// migration ends, slower.
const BUDGET_SECONDS = '1';

/** Objects listed per second over the saved states in [from, to). */
function rate(p: ProgressLog, from: number, to: number): number {
  const inside = p.samples.filter((s) => s.savedAt >= from && s.savedAt < to);
  const first = inside[0];
  const last = inside.at(-1);
  if (!first || !last || last.savedAt === first.savedAt) return 0;
  return (last.listed - first.listed) / ((last.savedAt - first.savedAt) / 1000);
}

describe('fault: latency between rekey and the apiserver', () => {
  let r: Rotation;
  let proxy: LatencyProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'latency' });
    const a = r.sb.env.apiservers[0];
    if (!a) throw new Error('no apiserver');
    proxy = await startLatencyProxy({ host: a.host, port: a.port });
  });
  after(async () => {
    await r?.close();
    await proxy?.close();
  });

  it(`completes with ${DELAY_MS} ms added each way mid-migration: nothing lost`, async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    const servedAt = Date.now();
    await r.serve({
      KUBECONFIG: kubeconfigVia(r, proxy.url, 'latency'),
      REKEY_APISERVER_URLS: proxy.url,
      REKEY_BUDGET_SECONDS: BUDGET_SECONDS,
      REKEY_CONCURRENCY: '4',
    });
    const progress = r.progress as ProgressLog;
    const at = await r.midMigration(0.4);
    proxy.setDelay(DELAY_MS);
    r.resume();
    const injectedAt = Date.now();
    const chunksAtInjection = proxy.chunks();

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    assert.ok(proxy.chunks() > chunksAtInjection, 'rekey kept talking through the delaying proxy');
    recordAndAssert(t, r, proof, {
      fault: '5. latency rekey <-> apiserver',
      injected: `+${DELAY_MS} ms each way (TCP proxy) from ${at.listed}/${at.total} listed to the end (step budget ${BUDGET_SECONDS} s)`,
      recoverSeconds: progress.recoveredAfter(injectedAt) ?? null,
      details: {
        listedPerSecondBefore: Number(rate(progress, servedAt, injectedAt).toFixed(1)),
        listedPerSecondAfter: Number(rate(progress, injectedAt, Date.now()).toFixed(1)),
        writes: writers.record.writes,
        writeErrors: writers.record.errors,
      },
    });
  });
});
