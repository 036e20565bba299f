// A report is written only when what it says changes: not for the time of the reading, and not for
// an error that differs only in its numbers (a plugin that stays down, tick after tick).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { errorShape, reportChanged } from '../../../../functions/key-id-reporter/report-changed.ts';
import type { KeyIdReport } from '../../../../shared/adapters/k8s/key-id-reports.ts';

const base: KeyIdReport = {
  node: 'cp-1',
  provider: 'kms',
  observedAt: '2026-12-02T10:00:00.000Z',
  keyId: 'k1',
  healthz: '',
  version: '',
};

describe('reportChanged', () => {
  it('ignores the time of the reading', () => {
    assert.equal(reportChanged(base, { ...base, observedAt: '2026-12-02T10:00:15.000Z' }), false);
  });

  it('ignores an error whose text differs only in its numbers', () => {
    const down = (s: string) => ({
      ...base,
      error: `Error: 4 DEADLINE_EXCEEDED: Deadline exceeded after ${s}s,LB pick: 0.001s`,
    });
    assert.equal(reportChanged(down('4.998'), down('5.013')), false);
    assert.equal(
      reportChanged(
        { ...base, error: 'connect ECONNREFUSED 127.0.0.1:43121 at 2026-12-02T10:00:00Z' },
        { ...base, error: 'connect ECONNREFUSED 127.0.0.1:43121 at 2026-12-02T10:00:15Z' },
      ),
      false,
    );
  });

  it('sees a different error, an error appearing or clearing, and a new key_id', () => {
    const refused = { ...base, error: 'Error: 14 UNAVAILABLE: connect ECONNREFUSED' };
    assert.equal(reportChanged(refused, { ...base, error: 'Error: 4 DEADLINE_EXCEEDED' }), true);
    assert.equal(reportChanged(base, refused), true);
    assert.equal(reportChanged(refused, base), true);
    assert.equal(reportChanged(base, { ...base, keyId: 'k2' }), true);
    assert.equal(
      reportChanged(base, { ...base, keyId: 'k12' }),
      true,
      'key_ids are compared whole',
    );
  });
});

describe('errorShape', () => {
  it('replaces every number, dotted or timed, by one mark', () => {
    assert.equal(errorShape('after 4.998s on 10.0.0.1:443'), 'after #s on #');
  });
});
