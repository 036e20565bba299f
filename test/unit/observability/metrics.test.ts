// The Metrics facade over prom-client: one registry per call, default metrics on request,
// the phase gauge one-hot per revision and dropped when the revision is pruned.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMetrics } from '../../../shared/observability/metrics.ts';

describe('createMetrics', () => {
  it('keeps each registry separate and includes the Node.js default metrics', async () => {
    const a = createMetrics();
    const b = createMetrics({ defaultMetrics: false });
    a.eventReceived({ function: 'kms-event', type: 'com.amazon.events.event', outcome: 'handled' });
    assert.match(await a.render(), /process_cpu_user_seconds_total/);
    assert.match(
      await a.render(),
      /rekey_events_received_total\{function="kms-event",type="com.amazon.events.event",outcome="handled"\} 1/,
    );
    const bText = await b.render();
    assert.doesNotMatch(bText, /process_cpu_user_seconds_total/);
    assert.doesNotMatch(bText, /rekey_events_received_total\{/);
  });

  it('sets the phase gauge one-hot and forgets pruned revisions', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.revisionPhase({ provider: 'gcp', revision: 'encryption-key-gcp-1', phase: 'Converging' });
    m.revisionPhase({ provider: 'gcp', revision: 'encryption-key-gcp-1', phase: 'Completed' });
    let text = await m.render();
    assert.match(text, /revision="encryption-key-gcp-1",phase="Completed"\} 1/);
    assert.match(text, /revision="encryption-key-gcp-1",phase="Converging"\} 0/);
    m.forgetRevision({ provider: 'gcp', revision: 'encryption-key-gcp-1' });
    text = await m.render();
    assert.doesNotMatch(text, /encryption-key-gcp-1/);
  });

  it('adds counts of rewritten objects and ignores an empty batch', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.objectsRewritten({ provider: 'aws', outcome: 'reencrypted' }, 3);
    m.objectsRewritten({ provider: 'aws', outcome: 'reencrypted' });
    m.objectsRewritten({ provider: 'aws', outcome: 'failed' }, 0);
    const text = await m.render();
    assert.match(text, /rekey_objects_rewritten_total\{provider="aws",outcome="reencrypted"\} 4/);
    assert.doesNotMatch(text, /outcome="failed"/);
  });

  it('bounds the event type label, which a sender chooses', async () => {
    const m = createMetrics({ defaultMetrics: false, maxEventTypes: 2 });
    for (const type of ['a', 'b', 'c', 'd', 'a']) {
      m.eventReceived({ function: 'f', type, outcome: 'rejected' });
    }
    const text = await m.render();
    assert.match(text, /type="a",outcome="rejected"\} 2/);
    assert.match(text, /type="b",outcome="rejected"\} 1/);
    assert.match(text, /type="other",outcome="rejected"\} 2/);
    assert.doesNotMatch(text, /type="c"/);
  });

  it('applies default labels to every series', async () => {
    const m = createMetrics({ defaultMetrics: false, defaultLabels: { pod: 'rekey-0' } });
    m.stepDone({ provider: 'aws', step: 'observe' });
    assert.match(
      await m.render(),
      /rekey_reconcile_steps_total\{provider="aws",step="observe",pod="rekey-0"\} 1/,
    );
  });
});
