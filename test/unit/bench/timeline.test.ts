import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTimeline, timelineBetween } from '../../bench/timeline.ts';

describe('bench timeline', () => {
  it('counts overlapping calls of a kind once, and any call toward busy', async () => {
    let t = 0;
    const tl = createTimeline(() => t);
    const gate = () => {
      let open: () => void = () => {};
      const p = new Promise<void>((r) => {
        open = r;
      });
      return { p, open };
    };
    const a = gate();
    const b = gate();
    const c = gate();
    const p1 = tl.track('patch', () => a.p); // 0..10
    t = 5;
    const p2 = tl.track('patch', () => b.p); // 5..20
    t = 10;
    a.open();
    await p1;
    t = 20;
    b.open();
    await p2;
    t = 30;
    const l = tl.track('list', () => c.p); // 30..35
    t = 35;
    c.open();
    await l;
    t = 50;
    assert.deepEqual(tl.totals(), {
      patch: 20,
      list: 5,
      etcdRead: 0,
      verify: 0,
      otherApi: 0,
      busy: 25,
    });
  });

  it('includes calls still in flight when read, and subtracts an earlier reading', async () => {
    let t = 0;
    const tl = createTimeline(() => t);
    const before = tl.totals();
    void tl.track('verify', () => new Promise(() => {}));
    t = 7;
    const d = timelineBetween(before, tl.totals());
    assert.equal(d.verify, 7);
    assert.equal(d.busy, 7);
  });
});
