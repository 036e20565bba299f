// Live apiservers from identity Leases: judged on renewTime within a freshness window, not on the
// declared leaseDurationSeconds (3600 s), so a dead apiserver stops counting within a minute.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  IDENTITY_LEASE_FRESHNESS_MS,
  liveApiserverIds,
} from '../../../shared/domain/apiserver-identity.ts';
import { apiserverIdHash } from '../../../shared/domain/convergence.ts';

const now = new Date('2025-01-01T01:00:00Z');
const ago = (ms: number) => new Date(now.getTime() - ms).toISOString();
// what kube-apiserver writes: renewed every 10 s, declared valid for an hour
const lease = (name: string, renewedMsAgo: number, leaseDurationSeconds = 3600) => ({
  name,
  renewTime: ago(renewedMsAgo),
  leaseDurationSeconds,
});

describe('liveApiserverIds', () => {
  it('counts an apiserver whose Lease was renewed within the window', () => {
    assert.deepEqual(liveApiserverIds([lease('apiserver-a', 10_000)], now), [
      apiserverIdHash('apiserver-a'),
    ]);
  });

  it('drops a dead apiserver long before its declared hour ends', () => {
    const dead = lease('apiserver-dead', 60_000);
    assert.deepEqual(liveApiserverIds([dead, lease('apiserver-a', 5_000)], now), [
      apiserverIdHash('apiserver-a'),
    ]);
  });

  it('keeps a few delayed renewals inside the window, and the window is 45 s', () => {
    assert.equal(IDENTITY_LEASE_FRESHNESS_MS, 45_000);
    assert.equal(liveApiserverIds([lease('a', 44_999)], now).length, 1);
    assert.equal(liveApiserverIds([lease('a', 45_000)], now).length, 0);
  });

  it('honours a declared duration shorter than the window', () => {
    assert.equal(liveApiserverIds([lease('a', 20_000, 15)], now).length, 0);
    assert.equal(liveApiserverIds([lease('a', 10_000, 15)], now).length, 1);
  });

  it('takes a Date as renewTime (client-node) and a configurable window', () => {
    const l = { name: 'a', renewTime: new Date(now.getTime() - 90_000) };
    assert.equal(liveApiserverIds([l], now).length, 0);
    assert.equal(liveApiserverIds([l], now, 120_000).length, 1);
  });

  it('leaves out Leases that prove nothing, and counts duplicates once', () => {
    const leases = [
      { name: 'no-renew-time' },
      { name: 'bad-time', renewTime: 'yesterday' },
      { name: '', renewTime: ago(1_000) },
      lease('a', 1_000),
      lease('a', 2_000),
    ];
    assert.deepEqual(liveApiserverIds(leases, now), [apiserverIdHash('a')]);
  });
});
