// The encryption-config metrics as kube-apiserver 1.34 exports them, and the exact convergence
// judgement of a switch stage: every live apiserver on the hash its own node's file has.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessConfigConvergence } from '../../../../shared/domain/encryption-revisions/config-convergence.ts';
import {
  AUTOMATIC_RELOADS_METRIC,
  isConfigMetricLine,
  LAST_CONFIG_INFO_METRIC,
  parseConfigMetrics,
} from '../../../../shared/domain/encryption-revisions/config-metrics.ts';

const A = 'sha256:aaaa';
const B = 'sha256:bbbb';
const EXPOSITION = [
  `# HELP ${LAST_CONFIG_INFO_METRIC} [ALPHA] Information about the last applied encryption configuration`,
  `# TYPE ${LAST_CONFIG_INFO_METRIC} gauge`,
  `${LAST_CONFIG_INFO_METRIC}{apiserver_id_hash="${A}",hash="sha256:f1"} 1`,
  `${AUTOMATIC_RELOADS_METRIC}{apiserver_id_hash="${A}",status="success"} 3`,
  `${AUTOMATIC_RELOADS_METRIC}{apiserver_id_hash="${A}",status="failure"} 2`,
  `${AUTOMATIC_RELOADS_METRIC}{apiserver_id_hash="${B}",status="success"} 1`,
  'apiserver_request_total{code="200"} 9',
].join('\n');

describe('parseConfigMetrics', () => {
  it('reads the applied hash and reload counts per apiserver, nothing else', () => {
    assert.deepEqual(parseConfigMetrics(EXPOSITION), {
      applied: [{ apiserverIdHash: A, hash: 'sha256:f1' }],
      reloads: [
        { apiserverIdHash: A, success: 3, failure: 2 },
        { apiserverIdHash: B, success: 1, failure: 0 },
      ],
    });
    assert.equal(isConfigMetricLine(`# TYPE ${LAST_CONFIG_INFO_METRIC} gauge`), false);
    assert.equal(isConfigMetricLine('apiserver_request_total{code="200"} 9'), false);
  });
});

describe('assessConfigConvergence', () => {
  const expected: Record<string, string> = { n1: 'sha256:f1', n2: 'sha256:f2' };
  const byNode = (a: { node?: string | undefined }) => expected[a.node ?? ''];

  it('converged only when every live apiserver reports its own node file hash', () => {
    const live = [
      { id: A, node: 'n1', applied: 'sha256:f1', reloadFailures: 0 },
      { id: B, node: 'n2', applied: 'sha256:f2', reloadFailures: 0 },
    ];
    assert.equal(assessConfigConvergence(live, byNode).state, 'converged');
    // the other node's file does not count
    const crossed = [{ ...live[0], applied: 'sha256:f2' } as (typeof live)[0], live[1]];
    assert.deepEqual(
      (({ state, waitingOn }) => ({ state, waitingOn }))(
        assessConfigConvergence(crossed as typeof live, byNode),
      ),
      { state: 'waiting', waitingOn: [`n1 (${A})`] },
    );
  });

  it('waits on an apiserver with no hash yet; no live apiserver is not convergence', () => {
    const live = [{ id: A, node: 'n1', applied: undefined, reloadFailures: 0 }];
    assert.equal(assessConfigConvergence(live, byNode).state, 'waiting');
    assert.equal(assessConfigConvergence([], byNode).state, 'waiting');
  });

  it('a reload failure since the stage started, or no file for a node, is Degraded, named', () => {
    const live = [{ id: A, node: 'n1', applied: 'sha256:old', reloadFailures: 3 }];
    assert.equal(assessConfigConvergence(live, byNode, { [A]: 3 }).state, 'waiting');
    const failed = assessConfigConvergence(live, byNode, { [A]: 2 });
    assert.equal(failed.state, 'degraded');
    assert.match(failed.reason ?? '', /n1 .* failed to reload/);
    const stranger = assessConfigConvergence(
      [{ id: B, node: 'n9', applied: 'sha256:f1', reloadFailures: 0 }],
      byNode,
    );
    assert.deepEqual([stranger.state, stranger.failed], ['degraded', [`n9 (${B})`]]);
  });
});
