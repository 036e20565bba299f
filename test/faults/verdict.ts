// The end of every fault test: record the measured row first (a failed run is a row too), then
// assert each part of the proof, so a fault rekey does not survive shows as a failing test.
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import type { FaultRow } from './report.ts';
import { type Proof, type Rotation, survived } from './rotation.ts';

export function recordAndAssert(
  t: TestContext,
  r: Rotation,
  proof: Proof,
  row: Omit<FaultRow, 'survived' | 'lost'>,
  /** What this fault must also show, by description (each must hold for the row to survive). */
  checks: Record<string, boolean> = {},
): void {
  const failed = Object.entries(checks).filter(([, ok]) => !ok);
  const full: FaultRow = {
    ...row,
    survived: survived(proof) && row.recoverSeconds !== null && failed.length === 0,
    lost: proof.lost,
    details: {
      ...row.details,
      secrets: r.seeded.length,
      migrationSeconds: Number(proof.migrationSeconds.toFixed(1)),
      knativeUpSeconds: r.tier.upSeconds,
      etcd: proof.etcdKeyIds,
    },
  };
  r.record(full);
  t.diagnostic(JSON.stringify(full));
  const f = proof.final;
  const last = `phase ${f?.phase}, ${f?.lastError ?? ''} ${f?.convergence?.reason ?? ''}\n${r.served?.output() ?? ''}`;
  assert.equal(proof.completed, true, `the migration completed: ${last}`);
  assert.equal(proof.verified, true, 'rekey verified it from etcd');
  assert.equal(
    proof.notUnderNewKey,
    0,
    'every seeded secret is under the key it must end under, in etcd',
  );
  assert.equal(proof.othersInEtcd, 0, `no secret in etcd under another key: ${proof.etcdKeyIds}`);
  assert.equal(proof.lost, 0, `lost (names only): ${proof.lostNames.join(', ')}`);
  assert.notEqual(row.recoverSeconds, null, 'progress resumed after the fault');
  assert.deepEqual(
    failed.map(([what]) => what),
    [],
    'every check of this fault holds',
  );
}
