import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedLabel, OTHER_LABEL } from '../../../shared/observability/bounded-label.ts';

describe('boundedLabel: sender-chosen label values cannot grow without end', () => {
  it('keeps the first distinct values, then answers other; a value already seen keeps its own', () => {
    const label = boundedLabel({ maxValues: 2 });
    assert.equal(label('dev.knative.sources.ping'), 'dev.knative.sources.ping');
    assert.equal(label('dev.rekey.migration.slice'), 'dev.rekey.migration.slice');
    assert.equal(label('made.up.1'), OTHER_LABEL);
    assert.equal(label('made.up.2'), OTHER_LABEL);
    assert.equal(label('dev.knative.sources.ping'), 'dev.knative.sources.ping');
  });

  it('cuts long values, so one huge type is not a huge series name', () => {
    const label = boundedLabel({ maxLength: 10 });
    assert.equal(label('x'.repeat(10_000)), 'x'.repeat(10));
  });
});
