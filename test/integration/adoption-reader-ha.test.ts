// The adoption reader on a real HA pair with its default settings (no REKEY_APISERVER_URLS), in a
// private network where the apiservers advertise non-loopback addresses: it finds both in the
// `kubernetes` EndpointSlice and scrapes each; an apiserver whose kms-providers check fails stays
// pending although its Status metric reports the key; a dead apiserver stops counting as live
// within the freshness window although its identity Lease claims an hour.
import '../support/sandbox/in-private-network.ts';
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  createAdoptionReader,
  IDENTITY_LEASE_SELECTOR,
} from '../../shared/adapters/apiserver-metrics/adoption-reader.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import { IDENTITY_LEASE_FRESHNESS_MS } from '../../shared/domain/apiserver-identity.ts';
import { apiserverIdHash, assessConvergence } from '../../shared/domain/convergence.ts';
import type { AdoptionReader, AdoptionSnapshot } from '../../shared/ports/adoption-reader.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { connection } from '../support/kube.ts';
import { waitFor } from '../support/sandbox/net.ts';
import { stopProcess } from '../support/sandbox/processes.ts';
import {
  type ApiserverKeyStatus,
  PROVIDER_NAME,
  pluginStart,
  pluginStop,
  pokeKmsHealth,
  status,
} from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';

describe('adoption reader: two real apiservers, default settings', () => {
  let sb: TestSandbox;
  let reader: AdoptionReader;
  let close = () => {};
  let keys: ApiserverKeyStatus[] = [];
  const idOf = (i: number) => keys[i]?.apiserverIdHash ?? '';
  const gate = (s: AdoptionSnapshot) =>
    assessConvergence({
      keyIdHash: keys[0]?.keyIdHash ?? '',
      provider: PROVIDER_NAME,
      ...s,
      observedAt: new Date(),
      now: new Date(),
    });

  before(async () => {
    sb = await startSandbox({ apiservers: 2 });
    // rekey's identity and connection, as the reconcile function gets them
    const conn = connection(sb.env, { user: 'rekey' });
    const rest = createRestClient(conn);
    close = () => rest.close();
    reader = createAdoptionReader({
      rest,
      coordination: typedApi(rest).coordination,
      fallbackServer: conn.server,
      clock: systemClock,
    });
    keys = await waitFor('both apiservers to report a key_id', async () => {
      const s = await status({ dir: sb.dir });
      return s.every((x) => x.keyIdHash && x.apiserverIdHash) ? s : undefined;
    });
  });
  after(async () => {
    close();
    await sb?.stop();
  });

  it('the apiservers advertise non-loopback addresses', () => {
    for (const a of sb.env.apiservers) assert.match(a.host, /^10\.77\.0\.\d+$/);
  });

  it('finds both apiservers in the kubernetes EndpointSlice and scrapes each on its own', async () => {
    // each apiserver adds itself to the slice on its endpoint reconciler's next round
    const s = await waitFor(
      'the kubernetes EndpointSlice to list both apiservers',
      async () => {
        const r = await reader.read();
        return r.endpoints.source === 'discovered' && r.endpoints.servers.length === 2
          ? r
          : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 1000 },
    );
    assert.deepEqual(s.endpoints.servers, sb.env.apiservers.map((a) => a.url).sort());
    assert.deepEqual(new Set(s.liveApiservers), new Set([idOf(0), idOf(1)]));
    assert.deepEqual(
      new Set(s.samples.map((x) => x.apiserverIdHash)),
      new Set([idOf(0), idOf(1)]),
      'a sample from each apiserver, not twice the one a balancer picked',
    );
    assert.equal(s.metricsReadable, true, s.unreadableReason);
    assert.deepEqual(s.kmsUnhealthy, []);
    const v = gate(s);
    assert.equal(v.converged, true, v.reason);
    assert.equal(v.via, 'metrics');
  });

  it('an apiserver whose kms-providers check fails is pending, though its metric reports the key', async (t) => {
    await pluginStop({ dir: sb.dir, index: 1 });
    const s = await waitFor(
      "apiserver B's kms-providers check to fail",
      async () => {
        await pokeKmsHealth(sb.env);
        const r = await reader.read();
        return r.kmsUnhealthy.includes(idOf(1)) ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2000 },
    );
    const bReports = s.samples.filter((x) => x.apiserverIdHash === idOf(1));
    assert.ok(
      bReports.some((x) => x.keyIdHash === keys[1]?.keyIdHash),
      "B's Status metric still reports the key",
    );
    assert.deepEqual(s.kmsUnhealthy, [idOf(1)]);
    const v = gate(s);
    t.diagnostic(v.reason);
    assert.deepEqual(
      { converged: v.converged, pending: v.pending },
      {
        converged: false,
        pending: [idOf(1)],
      },
    );
    assert.match(v.reason, /its kms-providers check fails/);

    await pluginStart({ dir: sb.dir, index: 1 });
    const healed = await waitFor(
      "apiserver B's kms-providers check to pass again",
      async () => {
        await pokeKmsHealth(sb.env);
        const r = await reader.read();
        return r.kmsUnhealthy.length === 0 && r.metricsReadable ? r : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 2000 },
    );
    assert.equal(gate(healed).converged, true);
  });

  it('a dead apiserver stops counting as live within the freshness window, though its Lease claims an hour', async (t) => {
    const b = sb.env.apiservers[1];
    const rec = sb.env.processes.find((p) => p.name === b?.name);
    assert.ok(rec, 'apiserver B runs');
    await stopProcess(rec);
    const stoppedAt = Date.now();
    const s = await waitFor(
      'the reader to drop the dead apiserver (and the EndpointSlice to drop its address)',
      async () => {
        const r = await reader.read();
        return !r.liveApiservers.includes(idOf(1)) && r.metricsReadable ? r : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 2000 },
    );
    t.diagnostic(`dropped ${((Date.now() - stoppedAt) / 1000).toFixed(0)} s after B stopped`);
    assert.deepEqual(s.liveApiservers, [idOf(0)]);
    assert.deepEqual(s.endpoints, { source: 'discovered', servers: [sb.env.apiservers[0]?.url] });

    // its Lease is still there and, by its own leaseDurationSeconds, valid for most of an hour
    const admin = createRestClient(connection(sb.env));
    const leases = await typedApi(admin)
      .coordination.listNamespacedLease({
        namespace: 'kube-system',
        labelSelector: IDENTITY_LEASE_SELECTOR,
      })
      .finally(() => admin.close());
    const bLease = leases.items.find((l) => apiserverIdHash(l.metadata?.name ?? '') === idOf(1));
    assert.ok(bLease?.spec?.renewTime, "B's identity Lease remains");
    const renewed = new Date(bLease.spec.renewTime).getTime();
    assert.ok(Date.now() - renewed >= IDENTITY_LEASE_FRESHNESS_MS);
    assert.ok(renewed + (bLease.spec.leaseDurationSeconds ?? 0) * 1000 > Date.now());

    const v = gate(s);
    assert.equal(v.converged, true, v.reason);
    assert.equal(v.via, 'metrics');
  });
});
