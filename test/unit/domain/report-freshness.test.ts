// When a key-id report still speaks for its node: within the maximum age, and never when dated
// in the future beyond the clock-skew allowance.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  lastConfirmedMs,
  REPORT_FUTURE_SKEW_MS,
  REPORT_MAX_AGE_MS,
  reportFreshness,
} from '../../../shared/domain/report-freshness.ts';

const NOW = Date.parse('2030-01-02T03:04:05.000Z');

describe('reportFreshness', () => {
  it('is fresh up to the maximum age and stale after it', () => {
    assert.equal(reportFreshness(NOW, NOW), 'fresh');
    assert.equal(reportFreshness(NOW - REPORT_MAX_AGE_MS, NOW), 'fresh');
    assert.equal(reportFreshness(NOW - REPORT_MAX_AGE_MS - 1, NOW), 'stale');
  });

  it('allows a small skew into the future, and no more', () => {
    assert.equal(reportFreshness(NOW + REPORT_FUTURE_SKEW_MS, NOW), 'fresh');
    assert.equal(reportFreshness(NOW + REPORT_FUTURE_SKEW_MS + 1, NOW), 'future');
  });

  it('never lets a report dated far ahead count as fresh, however long rekey waits', () => {
    const ahead = Date.parse('3000-01-01T00:00:00.000Z');
    for (const now of [NOW, NOW + 86_400_000, NOW + 365 * 86_400_000]) {
      assert.equal(reportFreshness(ahead, now), 'future');
    }
  });

  it('takes its limits as given', () => {
    assert.equal(reportFreshness(NOW - 2000, NOW, { maxAgeMs: 1000 }), 'stale');
    assert.equal(reportFreshness(NOW + 2000, NOW, { skewMs: 1000 }), 'future');
    assert.equal(reportFreshness(NOW + 2000, NOW, { skewMs: 5000 }), 'fresh');
  });

  it('calls a missing or unreadable time undated', () => {
    assert.equal(reportFreshness(undefined, NOW), 'undated');
    assert.equal(reportFreshness(Number.NaN, NOW), 'undated');
  });
});

describe('lastConfirmedMs', () => {
  it('takes the later of the times that parse', () => {
    assert.equal(
      lastConfirmedMs('2030-01-02T03:00:00.000Z', '2030-01-02T03:04:00.000000Z'),
      Date.parse('2030-01-02T03:04:00.000Z'),
    );
    assert.equal(
      lastConfirmedMs('2030-01-02T03:00:00.000Z', undefined, 'soon'),
      Date.parse('2030-01-02T03:00:00.000Z'),
    );
    assert.equal(lastConfirmedMs(undefined, 'never'), undefined);
  });

  it('lets a future date win, so that the whole report is judged by it', () => {
    const ahead = '3000-01-01T00:00:00.000Z';
    assert.equal(
      reportFreshness(lastConfirmedMs('2030-01-02T03:04:00.000Z', ahead), NOW),
      'future',
    );
  });
});
