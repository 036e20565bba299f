// Reports first, metrics where there are none: the fallback answers only when no fresh report
// exists at all, and keeps what the reports said of the plugin and the configuration.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { withFallbackObserver } from '../../../shared/adapters/fallback-key-observer.ts';
import type { Observation } from '../../../shared/domain/observation.ts';
import type { KeyObservation, KeyObserver } from '../../../shared/ports/key-observer.ts';

const AT = '2025-01-01T00:00:00.000Z';
const report: Observation = { provider: 'p', keyId: 'k1', source: 'plugin-status', observedAt: AT };
const metric: Observation = {
  provider: 'p',
  keyId: '',
  keyIdHash: 'sha256:aa',
  source: 'apiserver-metrics',
  observedAt: AT,
};

function fixed(answer: KeyObservation): KeyObserver & { calls: number } {
  return {
    calls: 0,
    async observe() {
      this.calls++;
      return structuredClone(answer);
    },
  };
}

const metrics = () => fixed({ observations: [metric], pluginHealth: { status: 'unknown' } });

describe('withFallbackObserver', () => {
  it('fresh healthy reports: the reports, and the metrics are not read', async () => {
    const second = metrics();
    const both = withFallbackObserver(
      fixed({ observations: [report], pluginHealth: { status: 'healthy' }, encryptionConfigs: [] }),
      second,
    );
    assert.deepEqual((await both.observe('p')).observations, [report]);
    assert.equal(second.calls, 0);
  });

  it('fresh but unhealthy reports still decide: the plugin is sick, not absent', async () => {
    const second = metrics();
    const both = withFallbackObserver(
      fixed({
        observations: [],
        pluginHealth: { status: 'unhealthy', reason: 'n1: healthz down' },
      }),
      second,
    );
    const seen = await both.observe('p');
    assert.deepEqual(seen.observations, []);
    assert.equal(seen.pluginHealth.status, 'unhealthy');
    assert.equal(second.calls, 0);
  });

  it('no fresh report at all (a hosted control plane): the metrics, with what the reports said', async () => {
    const both = withFallbackObserver(
      fixed({ observations: [], pluginHealth: { status: 'unknown' }, encryptionConfigs: [] }),
      metrics(),
    );
    const seen = await both.observe('p');
    assert.deepEqual(seen.observations, [metric]);
    assert.deepEqual(seen.pluginHealth, { status: 'unknown' });
    assert.deepEqual(seen.encryptionConfigs, []);
  });
});
