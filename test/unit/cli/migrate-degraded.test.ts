// `rekey migrate` (reconcile --until-complete) on a Degraded revision, on the reconcile harness: a
// refusal someone has to lift exits 1 at once, naming the object; once lifted, the next run
// re-patches it at once (whatever the backoff) and exits 0, verified; a Degraded revision that
// can still change by itself keeps the command waiting until --timeout, then exits 3.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EXIT } from '../../../functions/cli/output.ts';
import { reconcileCommand } from '../../../functions/cli/reconcile.ts';
import type { PatchAttempt } from '../../../shared/domain/rewrite-outcome.ts';
import { type Harness, rotated } from '../../support/unit/reconcile-harness.ts';

const denial: Extract<PatchAttempt, { ok: false }> = {
  ok: false,
  status: 422,
  reason: 'Invalid',
  message: "ValidatingAdmissionPolicy 'deny-one' with binding 'deny-one' denied request: no",
};

/** Runs `rekey migrate` with its text output captured. */
async function migrate(h: Harness, timeoutMs = 60_000): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  try {
    const code = await reconcileCommand(h.deps, h.config, {
      format: 'text',
      untilComplete: true,
      pollMs: 0,
      timeoutMs,
    });
    return { code, out: lines.join('') };
  } finally {
    process.stdout.write = write;
  }
}

function setUp(): Harness {
  const h = rotated({ objects: 6 });
  h.deps.lookup = h.cluster;
  h.deps.sleep = async () => {};
  return h;
}

describe('rekey migrate on a Degraded revision', () => {
  it('a refusal exits 1 naming the object; after it is lifted, the next run exits 0, verified', async () => {
    const h = setUp();
    h.cluster.refused.set('ns-1/s-003', denial);

    const refused = await migrate(h);
    assert.equal(refused.code, EXIT.notOk, refused.out);
    assert.match(refused.out, /ns-1\/s-003/);
    assert.match(refused.out, /re-patches them on later steps/);
    assert.ok(Date.parse(h.revision(2).retry?.at ?? '') > h.clock.t, 'its backoff is not over');

    h.cluster.refused.clear();
    const lifted = await migrate(h);
    assert.equal(lifted.code, EXIT.ok, lifted.out);
    assert.equal(h.revision(2).phase, 'Completed');
    assert.equal(h.revision(2).verification?.clean, true);
  });

  it('an offender a retry may still move keeps it waiting until --timeout: exit 3, not 1', async () => {
    const h = setUp();
    h.cluster.get('ns-1/s-003').stuck = true;
    const r = await migrate(h, 0);
    assert.equal(r.code, EXIT.timeout, r.out);
    assert.equal(h.revision(2).phase, 'Degraded');
  });
});
