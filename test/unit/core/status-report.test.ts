// The status report (shared/core/status-report.ts) judges adoption as the step does: with the
// apiservers' metrics unreadable, it tells the fallback wait that is configured
// (REKEY_FALLBACK_WAIT_SECONDS), not the default one.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { statusReport } from '../../../shared/core/status-report.ts';
import { rev } from '../../support/unit/domain-fixtures.ts';
import { A, harness } from '../../support/unit/reconcile-harness.ts';

function unreadableMetrics(fallbackWaitMs: number | undefined) {
  const h = harness({ revisions: [rev({ number: 1, phase: 'Converging' })] });
  h.deps.adoption.read = async () => ({
    liveApiservers: [A],
    samples: [],
    kmsUnhealthy: [],
    metricsReadable: false,
    unreadableReason: 'forbidden',
    endpoints: { source: 'configured', servers: ['https://fake:6443'] },
  });
  const config = { ...h.config, ...(fallbackWaitMs === undefined ? {} : { fallbackWaitMs }) };
  return statusReport(h.deps, config);
}

describe('statusReport: the fallback wait while metrics are unreadable', () => {
  it('is the configured one (2 hours: still waiting ~61 minutes after 59)', async () => {
    const report = await unreadableMetrics(2 * 3600_000);
    assert.equal(report.convergence?.converged, false);
    assert.match(report.convergence?.reason ?? '', /of the 7200s fallback wait/);
  });

  it('is the default (5 minutes) only when none is configured', async () => {
    const report = await unreadableMetrics(undefined);
    assert.match(report.convergence?.reason ?? '', /after the 300s fallback wait/);
  });
});
