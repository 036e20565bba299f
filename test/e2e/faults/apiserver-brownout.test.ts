// Fault 10: a 10-second brownout between rekey and the apiserver: every request answered 503 with
// Retry-After (as an overloaded apiserver or its load balancer answers), mid-migration, writers
// unaffected (they talk to the apiserver directly). Transient exhaustion must never fail an object:
// the migration completes, verified, with no object failed for good and nothing lost.
import '../../support/knative/in-private-network.ts';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type BrownoutProxy, startBrownoutProxy } from '../../faults/brownout-proxy.ts';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import type { FaultServedRekey } from '../../faults/served-rekey.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { kubeconfigVia } from '../../faults/via-proxy.ts';
import { startWriters } from '../../faults/writers.ts';
import { waitFor } from '../../support/sandbox/net.ts';

const BROWNOUT_MS = 10_000;

describe('fault: a 10 s brownout of 503s between rekey and the apiserver', () => {
  let r: Rotation;
  let proxy: BrownoutProxy;
  before(async () => {
    r = await prepareRotation({ prefix: 'brownout' });
    const a = r.sb.env.apiservers[0];
    if (!a) throw new Error('no apiserver');
    proxy = await startBrownoutProxy(
      { host: a.host, port: a.port },
      { certFile: join(r.sb.dir, `${a.name}.crt`), keyFile: join(r.sb.dir, `${a.name}.key`) },
    );
  });
  after(async () => {
    await r?.close();
    await proxy?.close();
  });

  it('completes, verified, no object failed for good: nothing lost', async (t) => {
    const writers = startWriters(r.api, r.seeded.slice(0, 40));
    r.track(writers.stop);
    await r.serve({
      KUBECONFIG: kubeconfigVia(r, proxy.url, 'brownout'),
      REKEY_APISERVER_URLS: proxy.url,
    });
    const progress = r.progress as ProgressLog;
    const gate = (r.served as FaultServedRekey).gate;
    const at = await r.midMigration(0.25);
    // held mid-way: the brownout starts before rekey's next step, which meets it
    proxy.brownout(true);
    const startedAt = Date.now();
    r.resume();
    await waitFor('rekey to meet the brownout', async () => proxy.refused() > 0 || undefined, {
      timeoutMs: BROWNOUT_MS,
    });
    // the fault's length is its definition, not a wait for rekey: rekey is not awaited here
    await new Promise((res) => setTimeout(res, Math.max(0, startedAt + BROWNOUT_MS - Date.now())));
    proxy.brownout(false);
    const endedAt = Date.now();
    const refused = proxy.refused();
    const answeredDuring = gate.answered();

    const proof = await r.finish(150_000, async () => {
      const w = await writers.stop();
      return (key) => w.acceptable.get(key);
    });
    const failed = proof.final?.progress.failed ?? [];
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '10. 503 brownout rekey <-> apiserver',
        injected: `every request from rekey answered 503 (Retry-After: 1) for ${((endedAt - startedAt) / 1000).toFixed(0)} s from ${at.listed}/${at.total} listed`,
        recoverSeconds: progress.recoveredAfter(endedAt) ?? null,
        details: {
          refused503: refused,
          stepsAnsweredBy: answeredDuring,
          failedForGood: failed.length,
          writes: writers.record.writes,
          writeErrors: writers.record.errors,
        },
      },
      {
        [`rekey met the brownout (${refused} requests answered 503)`]: refused > 0,
        [`no object failed for good (${failed.length})`]: failed.length === 0,
      },
    );
  });
});
