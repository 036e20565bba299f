// The projection to 1M: a line fitted through the sizes measured, never shrinking with size.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fitLinear, projectTo, valueAt } from '../../bench/projection.ts';

describe('fitLinear', () => {
  it('fits fixed + per-object cost through several sizes', () => {
    const fit = fitLinear([
      { n: 1000, value: 3000 },
      { n: 2000, value: 5000 },
      { n: 4000, value: 9000 },
    ]);
    assert.ok(Math.abs(fit.perObject - 2) < 1e-9);
    assert.ok(Math.abs(fit.fixed - 1000) < 1e-9);
    assert.ok(Math.abs(valueAt(fit, 1_000_000) - 2_001_000) < 1e-6);
  });

  it('goes through the origin from one size', () => {
    assert.deepEqual(fitLinear([{ n: 500, value: 1000 }]), { fixed: 0, perObject: 2 });
  });

  it('takes memory that shrank between sizes as flat, at the largest value', () => {
    const fit = fitLinear([
      { n: 300, value: 150 },
      { n: 500, value: 140 },
    ]);
    assert.deepEqual(fit, { fixed: 150, perObject: 0 });
  });

  it('refuses to fit nothing', () => {
    assert.throws(() => fitLinear([]), RangeError);
  });
});

describe('projectTo', () => {
  it('projects time, memory and scan time at N from the measured sizes', () => {
    const p = projectTo(1_000_000, {
      migrateMs: [
        { n: 300, value: 2000 },
        { n: 500, value: 3000 },
      ],
      rssMib: [
        { n: 300, value: 120 },
        { n: 500, value: 121 },
      ],
      etcdScanMs: [{ n: 800, value: 80 }],
    });
    assert.ok(Math.abs(p.migrateSeconds - (500 + 5 * 1_000_000) / 1000) < 1e-6);
    assert.ok(Math.abs(p.runnerRssMib - (118.5 + 0.005 * 1_000_000)) < 1e-6);
    assert.ok(Math.abs(p.etcdScanSeconds - 100) < 1e-9);
  });
});
