// Pruning: keep the newest N per provider, and never a revision whose key may still protect data
// (only a newer Completed revision with a clean etcd verification proves it does not).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isProven, revisionsToPrune } from '../../../shared/domain/prune.ts';
import type { Revision } from '../../../shared/domain/revision.ts';
import { minute, rev } from '../../support/unit/domain-fixtures.ts';

const clean = { clean: true, offenders: [], checkedAt: minute(50) };
const dirty = { clean: false, offenders: ['secrets/ns/a'], checkedAt: minute(50) };

/** Revisions 1..n of `provider`, all Completed and unverified unless `proven` lists numbers. */
function series(n: number, proven: number[] = [], provider = 'p'): Revision[] {
  return Array.from({ length: n }, (_, i) =>
    rev({
      number: i + 1,
      provider,
      phase: 'Completed',
      ...(proven.includes(i + 1) ? { verification: clean } : {}),
    }),
  );
}

const names = (provider: string, ...ns: number[]) =>
  ns.map((n) => `encryption-key-${provider}-${n}`);

const cases: { name: string; revisions: Revision[]; keep?: number; want: string[] }[] = [
  { name: 'nothing to prune within keep', revisions: series(10, [10]), want: [] },
  { name: 'beyond keep but nothing proven: keep all', revisions: series(12), want: [] },
  {
    name: 'the newest proven: prune beyond keep',
    revisions: series(12, [12]),
    want: names('p', 1, 2),
  },
  {
    name: 'only revisions older than the newest proven one go',
    revisions: series(12, [3]),
    keep: 2,
    want: names('p', 1, 2),
  },
  {
    name: 'the newest proven one counts, not an older one',
    revisions: series(8, [2, 6]),
    keep: 1,
    want: names('p', 1, 2, 3, 4, 5),
  },
  {
    name: 'a dirty verification proves nothing',
    revisions: series(12).map((r) => (r.number === 12 ? { ...r, verification: dirty } : r)),
    want: [],
  },
  {
    name: 'a clean verification without Completed proves nothing',
    revisions: series(12, [12]).map((r) => (r.number === 12 ? { ...r, phase: 'Verifying' } : r)),
    want: [],
  },
  {
    name: 'providers are judged apart, output sorted',
    revisions: [...series(4, [4], 'q'), ...series(3, [], 'a'), ...series(3, [3], 'p')].reverse(),
    keep: 1,
    want: [...names('p', 1, 2), ...names('q', 1, 2, 3)],
  },
  {
    name: 'keep below 1 keeps the newest anyway',
    revisions: series(3, [3]),
    keep: 0,
    want: names('p', 1, 2),
  },
  {
    name: 'a NaN keep means the default 10',
    revisions: series(11, [11]),
    keep: Number.NaN,
    want: names('p', 1),
  },
  { name: 'no revisions', revisions: [], want: [] },
];

describe('revisionsToPrune', () => {
  for (const c of cases) {
    it(c.name, () => {
      const options = c.keep === undefined ? undefined : { keep: c.keep };
      assert.deepEqual(revisionsToPrune(c.revisions, options), c.want);
    });
  }
});

describe('isProven', () => {
  const table: [string, Revision, boolean][] = [
    ['Completed and clean', rev({ number: 1, phase: 'Completed', verification: clean }), true],
    ['Completed, unverified', rev({ number: 1, phase: 'Completed' }), false],
    ['Completed, dirty', rev({ number: 1, phase: 'Completed', verification: dirty }), false],
    ['Degraded and clean', rev({ number: 1, phase: 'Degraded', verification: clean }), false],
  ];
  for (const [name, r, want] of table) it(name, () => assert.equal(isProven(r), want));
});
