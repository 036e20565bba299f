// readAhead: the next item is asked for as soon as the previous one is handed out, and nothing it
// started is left running once the consumer is done.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readAhead } from '../../../shared/core/read-ahead.ts';

/** A source of `n` items that records when each is asked for and when each read settles. */
function source(n: number, { failAt }: { failAt?: number } = {}) {
  const log: string[] = [];
  async function* gen() {
    for (let i = 1; i <= n; i++) {
      log.push(`read ${i}`);
      await new Promise((r) => setImmediate(r));
      if (i === failAt) throw new Error(`read ${i} failed`);
      log.push(`read ${i} done`);
      yield i;
    }
  }
  return { log, items: gen() };
}

describe('readAhead', () => {
  it('reads the next item while the consumer works on the current one', async () => {
    const s = source(3);
    const seen: number[] = [];
    for await (const i of readAhead(s.items)) {
      s.log.push(`work ${i}`);
      await new Promise((r) => setImmediate(r));
      seen.push(i);
    }
    assert.deepEqual(seen, [1, 2, 3]);
    // item 2 is being read before the work on item 1 begins
    assert.ok(s.log.indexOf('read 2') < s.log.indexOf('work 1'), s.log.join(', '));
    assert.ok(s.log.indexOf('read 3') < s.log.indexOf('work 2'), s.log.join(', '));
  });

  it('a consumer that stops early has the read ahead waited out, not taken', async () => {
    const s = source(5);
    for await (const i of readAhead(s.items)) {
      if (i === 2) break;
    }
    assert.ok(s.log.includes('read 3 done'), 'the read ahead settled before the loop ended');
    assert.ok(!s.log.includes('read 4'), 'nothing read past it');
  });

  it('a read that fails is thrown to the consumer when it asks for that item', async () => {
    const s = source(3, { failAt: 2 });
    const seen: number[] = [];
    await assert.rejects(async () => {
      for await (const i of readAhead(s.items)) seen.push(i);
    }, /read 2 failed/);
    assert.deepEqual(seen, [1]);
  });

  it('a failed read ahead of a consumer that stopped is nobody’s error', async () => {
    const s = source(3, { failAt: 2 });
    for await (const i of readAhead(s.items)) {
      if (i === 1) break;
    }
    assert.ok(s.log.includes('read 2'));
  });
  it('a read that fails while the consumer is busy is thrown when asked for, never unhandled', async () => {
    const unhandled: unknown[] = [];
    const note = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', note);
    try {
      async function* failsSecond() {
        yield 1;
        throw new Error('list refused (403)');
      }
      const seen: number[] = [];
      await assert.rejects(async () => {
        for await (const i of readAhead(failsSecond())) {
          // the consumer is busy (its page's patches) long enough for the read to fail meanwhile
          await new Promise((r) => setTimeout(r, 20));
          seen.push(i);
        }
      }, /list refused/);
      assert.deepEqual(seen, [1]);
      assert.deepEqual(unhandled, [], 'no unhandled rejection in between');
    } finally {
      process.off('unhandledRejection', note);
    }
  });

  it('a consumer that stops early has the read ahead cancelled first (onStop), then waited out', async () => {
    let cancel: () => void = () => {};
    const cancelled = new Promise<void>((r) => {
      cancel = r;
    });
    async function* slowSecond() {
      yield 1;
      // a list waiting out a long Retry-After: it ends only when cancelled
      await cancelled;
      throw new Error('cancelled');
    }
    let stops = 0;
    for await (const i of readAhead(slowSecond(), {
      onStop: () => {
        stops++;
        cancel();
      },
    })) {
      if (i === 1) break;
    }
    assert.equal(stops, 1);
  });

  it('onStop is not called when the source ends by itself', async () => {
    let stops = 0;
    const s = source(2);
    for await (const _ of readAhead(s.items, { onStop: () => stops++ })) {
      // take everything
    }
    assert.equal(stops, 0);
  });
});
