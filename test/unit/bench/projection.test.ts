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
  it('fits fixed + per object where the sizes are at least 5x apart', () => {
    const p = projectTo(1_000_000, {
      migrateMs: [
        { n: 1000, value: 3000 },
        { n: 10_000, value: 21_000 },
      ],
      rssMib: [
        { n: 1000, value: 140 },
        { n: 10_000, value: 149 },
      ],
      etcdScanMs: [
        { n: 1000, value: 100 },
        { n: 10_000, value: 1000 },
      ],
    });
    assert.ok(Math.abs(p.migrateSeconds - (1 + 2 * 1000)) < 1e-6);
    assert.ok(Math.abs(p.runnerRssMib - (139 + 0.001 * 1_000_000)) < 1e-6);
    assert.ok(Math.abs(p.etcdScanSeconds - 100) < 1e-6);
  });

  it('projects time and scan from the largest of close sizes, and not memory', () => {
    const p = projectTo(1_000_000, {
      migrateMs: [
        { n: 324, value: 6362 },
        { n: 525, value: 5265 },
      ],
      rssMib: [
        { n: 324, value: 143 },
        { n: 525, value: 148 },
      ],
      etcdScanMs: [{ n: 800, value: 80 }],
    });
    assert.ok(Math.abs(p.migrateSeconds - (5265 / 525) * 1000) < 1e-6);
    assert.ok(Number.isNaN(p.runnerRssMib));
    assert.equal(p.fits.rssMib, undefined);
    assert.ok(Math.abs(p.etcdScanSeconds - 100) < 1e-9);
  });
});
