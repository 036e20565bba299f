// The backoff between retry passes of a Degraded revision: when the first pass is due, how the
// wait grows and where it stops, that a pass is never due before its time or without a schedule,
// and that a damaged stored schedule is dropped.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  afterRetry,
  firstRetry,
  parseRetrySchedule,
  RETRY_BASE_MS,
  RETRY_MAX_MS,
  retryDue,
} from '../../../shared/domain/retry-schedule.ts';

const now = new Date('2025-01-01T00:00:00.000Z');
const at = (ms: number) => new Date(now.getTime() + ms).toISOString();
const top = () => 0.999_999; // the longest wait the jitter allows

describe('retry schedule', () => {
  it('schedules the first pass one base step out, no pass run yet', () => {
    assert.deepEqual(firstRetry(now, top), { attempt: 0, at: at(RETRY_BASE_MS) });
    assert.deepEqual(
      firstRetry(now, () => 0),
      { attempt: 0, at: at(RETRY_BASE_MS / 2) },
    );
  });

  it('doubles the wait after each pass, up to the cap', () => {
    let s = firstRetry(now, top);
    const waits: number[] = [];
    for (let i = 0; i < 9; i++) {
      s = afterRetry(s, { now, random: top });
      waits.push(Date.parse(s.at) - now.getTime());
    }
    assert.deepEqual(waits.slice(0, 3), [2 * RETRY_BASE_MS, 4 * RETRY_BASE_MS, 8 * RETRY_BASE_MS]);
    const longest = Math.max(...waits);
    assert.ok(longest <= RETRY_MAX_MS && longest > RETRY_MAX_MS - 10, String(longest));
    assert.equal(waits.at(-1), longest, 'it stays at the cap');
    assert.equal(s.attempt, 9);
  });

  it('is due only once scheduled and its time has come', () => {
    const s = firstRetry(now, top);
    assert.equal(retryDue(undefined, now), false);
    assert.equal(retryDue(s, now), false);
    assert.equal(retryDue(s, new Date(now.getTime() + RETRY_BASE_MS - 1)), false);
    assert.equal(retryDue(s, new Date(now.getTime() + RETRY_BASE_MS)), true);
  });

  it('reads a stored schedule back and drops a damaged one', () => {
    const s = { attempt: 2, at: at(1000) };
    assert.deepEqual(parseRetrySchedule(JSON.parse(JSON.stringify(s))), s);
    assert.deepEqual(parseRetrySchedule({ ...s, unknown: 'x' }), s);
    for (const bad of [
      null,
      'x',
      { attempt: -1, at: at(0) },
      { attempt: 1.5, at: at(0) },
      { attempt: 1, at: 'soon' },
    ]) {
      assert.equal(parseRetrySchedule(bad), undefined, JSON.stringify(bad));
    }
  });
});
