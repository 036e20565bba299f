// Fault 7: 50 concurrent clients start writing the very secrets being rewritten, mid-migration.
// rekey's no-op patches carry uid + resourceVersion preconditions, so none of their writes may be
// lost or refused: zero lost updates, zero client errors, and the migration still completes.
import '../../support/knative/in-private-network.ts';
import { after, before, describe, it } from 'node:test';
import type { ProgressLog } from '../../faults/progress.ts';
import { prepareRotation, type Rotation } from '../../faults/rotation.ts';
import { recordAndAssert } from '../../faults/verdict.ts';
import { startWorkload, type WorkloadResult } from '../../support/workload.ts';

const CLIENTS = 50;

describe('fault: 50 concurrent writers on the secrets being rewritten', () => {
  let r: Rotation;
  before(async () => {
    r = await prepareRotation({ prefix: 'writers' });
  });
  after(async () => {
    await r?.close();
  });

  it(`${CLIENTS} writers: zero lost updates, zero client errors, completes`, async (t) => {
    await r.serve();
    const progress = r.progress as ProgressLog;
    // early, so the writers overlap most of the migration
    const at = await r.midMigration(0.1);
    // every seeded secret is owned by a writer, so each one rekey rewrites is also being written
    const load = startWorkload(r.api, r.seeded, { clients: CLIENTS });
    r.track(load.stop);
    r.resume();
    const injectedAt = Date.now();
    let result: WorkloadResult | undefined;

    const proof = await r.finish(150_000, async () => {
      result = await load.stop();
      const last = result.lastWritten;
      return (key) => (last.has(key) ? new Set([last.get(key) as string]) : undefined);
    });
    const w = result as WorkloadResult;
    const sorted = [...w.latenciesMs].sort((a, b) => a - b);
    const p99 = sorted[Math.floor(sorted.length * 0.99)] ?? 0;
    recordAndAssert(
      t,
      r,
      proof,
      {
        fault: '7. 50 concurrent writers',
        injected: `${CLIENTS} clients patching and reading all ${r.seeded.length} secrets from ${at.listed}/${at.total} listed to the end`,
        recoverSeconds: progress.recoveredAfter(injectedAt) ?? null,
        details: {
          writes: w.writes,
          reads: w.reads,
          clientErrors: w.errors.length,
          clientP99Ms: Math.round(p99),
        },
      },
      {
        [`the clients wrote while rekey worked (${w.writes} writes)`]: w.writes >= CLIENTS,
        [`no client saw an error (${w.errors.slice(0, 3).join('; ')})`]: w.errors.length === 0,
      },
    );
  });
});
