import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UsageError } from '../../../functions/cli/output.ts';
import { parseTimeout } from '../../../functions/cli/timeout.ts';

describe('parseTimeout', () => {
  it('takes seconds, minutes, hours and plain seconds', () => {
    assert.equal(parseTimeout('90s'), 90_000);
    assert.equal(parseTimeout('20m'), 1_200_000);
    assert.equal(parseTimeout('1h'), 3_600_000);
    assert.equal(parseTimeout('45'), 45_000);
  });
  for (const bad of ['', '0', '-5', '10x', 'm', 'soon']) {
    it(`refuses ${JSON.stringify(bad)} as a usage error`, () => {
      assert.throws(() => parseTimeout(bad), UsageError);
    });
  }
});
