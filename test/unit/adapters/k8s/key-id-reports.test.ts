// Key-id report ConfigMaps (format 2 with the EncryptionConfiguration, and format 1 from older
// reporters) and what the report-based KeyObserver makes of them, on an in-memory ConfigMap store.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1ConfigMap } from '@kubernetes/client-node';
import {
  fromConfigMap,
  type KeyIdReport,
  LABEL_REPORT,
  readReports,
  writeReport,
} from '../../../../shared/adapters/k8s/key-id-reports.ts';
import { createReportKeyObserver } from '../../../../shared/adapters/k8s/report-key-observer.ts';
import { createReportedConfigs } from '../../../../shared/adapters/k8s/reported-configs.ts';
import type { CoordinationApi, CoreApi } from '../../../../shared/adapters/k8s/typed-api.ts';

const NS = 'rekey-system';
const T0 = '2030-01-02T03:04:05.000Z';
const HASH = `sha256:${'ab'.repeat(32)}`;

type ReportApi = Pick<
  CoreApi,
  'listNamespacedConfigMap' | 'createNamespacedConfigMap' | 'replaceNamespacedConfigMap'
>;

function store() {
  const maps = new Map<string, V1ConfigMap>();
  const api = {
    async replaceNamespacedConfigMap({ name, body }: { name: string; body: V1ConfigMap }) {
      if (!maps.has(name)) throw Object.assign(new Error('not found'), { code: 404 });
      maps.set(name, structuredClone(body));
      return body;
    },
    async createNamespacedConfigMap({ body }: { body: V1ConfigMap }) {
      maps.set(body.metadata?.name ?? '', structuredClone(body));
      return body;
    },
    async listNamespacedConfigMap() {
      return { items: [...maps.values()].map((m) => structuredClone(m)) };
    },
  };
  return { maps, api: api as unknown as ReportApi };
}

const report: KeyIdReport = {
  node: 'cp-0',
  provider: 'kms-a',
  keyId: 'key-2',
  healthz: 'ok',
  version: 'v2',
  observedAt: T0,
};
const config = {
  hash: HASH,
  path: '/etc/kubernetes/enc/encryption-config.yaml',
  resources: [{ resources: ['secrets', '*.apps'], write: true }],
};

describe('key-id report ConfigMaps', () => {
  it('writes format 2 with the configuration as JSON, and reads it back', async () => {
    const { maps, api } = store();
    await writeReport(api, NS, { ...report, encryptionConfig: config });
    const [cm] = [...maps.values()];
    assert.equal(cm?.data?.format, '2');
    assert.deepEqual(JSON.parse(cm?.data?.encryptionConfig ?? 'null'), config);
    assert.deepEqual(await readReports(api, NS, 'kms-a'), [
      { ...report, encryptionConfig: config },
    ]);
  });

  it('round-trips an encryptionConfigError', async () => {
    const { api } = store();
    const broken = { ...report, encryptionConfigError: 'Error: ENOENT: no such file' };
    await writeReport(api, NS, broken);
    assert.deepEqual(await readReports(api, NS, 'kms-a'), [broken]);
  });

  it('still reads a ConfigMap written by an older reporter (no format)', () => {
    const old: V1ConfigMap = {
      metadata: { name: 'key-id-report-cp-0-kms-a', labels: { [LABEL_REPORT]: 'true' } },
      data: {
        node: 'cp-0',
        provider: 'kms-a',
        keyId: 'key-1',
        healthz: 'ok',
        version: 'v2',
        observedAt: T0,
      },
    };
    assert.deepEqual(fromConfigMap(old), { ...report, keyId: 'key-1' });
    assert.equal(fromConfigMap(old)?.encryptionConfig, undefined);
  });

  it('keeps the key_id of a report whose configuration part is damaged, and says so', () => {
    const cm: V1ConfigMap = {
      data: {
        ...{ node: 'cp-0', provider: 'kms-a', keyId: 'key-2', healthz: 'ok', version: 'v2' },
        observedAt: T0,
        format: '2',
        encryptionConfig: '{"hash": 42}',
      },
    };
    const r = fromConfigMap(cm);
    assert.equal(r?.keyId, 'key-2');
    assert.equal(r?.encryptionConfig, undefined);
    assert.match(r?.encryptionConfigError ?? '', /unreadable encryptionConfig/);
  });
});

describe('report KeyObserver: encryptionConfigs', () => {
  const clock = { now: () => new Date(Date.parse(T0) + 60_000) };

  it('exposes the configurations of fresh reports only, one per node', async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, encryptionConfig: config });
    await writeReport(api, NS, {
      ...report,
      node: 'cp-1',
      encryptionConfig: { ...config, hash: `sha256:${'cd'.repeat(32)}` },
    });
    await writeReport(api, NS, { ...report, node: 'cp-2' }); // no ENCRYPTION_CONFIG_FILE there
    await writeReport(api, NS, {
      ...report,
      node: 'cp-old',
      observedAt: '2029-01-01T00:00:00.000Z',
      encryptionConfig: { ...config, hash: 'sha256:stale' },
    });
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.deepEqual(seen.encryptionConfigs?.map((c) => [c.node, c.hash]).sort(), [
      ['cp-0', HASH],
      ['cp-1', `sha256:${'cd'.repeat(32)}`],
    ]);
    assert.deepEqual(seen.encryptionConfigs?.[0]?.resources, config.resources);
    assert.equal(seen.pluginHealth.status, 'healthy');
  });

  it('gives an empty list, not undefined, when no fresh report carries one', async () => {
    const { api } = store();
    await writeReport(api, NS, report);
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.deepEqual(seen.encryptionConfigs, []);
  });

  it('ignores reports of other providers', async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, provider: 'kms-b', encryptionConfig: config });
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.deepEqual(seen.encryptionConfigs, []);
  });
});

describe('key-id reports: when the key_id was first seen', () => {
  const FIRST = '2030-01-02T03:00:00.000Z';
  const clock = { now: () => new Date(Date.parse(T0) + 60_000) };

  it('round-trips keyIdFirstSeen in format 2, and the observer carries it as firstSeenAt', async () => {
    const { maps, api } = store();
    await writeReport(api, NS, { ...report, keyIdFirstSeen: FIRST });
    const [cm] = [...maps.values()];
    assert.equal(cm?.data?.format, '2', 'a compatible addition: the format stays 2');
    assert.equal(cm?.data?.keyIdFirstSeen, FIRST);
    assert.deepEqual(await readReports(api, NS, 'kms-a'), [{ ...report, keyIdFirstSeen: FIRST }]);
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.deepEqual(seen.observations, [
      {
        provider: 'kms-a',
        keyId: 'key-2',
        source: 'plugin-status',
        observedAt: T0,
        firstSeenAt: FIRST,
      },
    ]);
  });

  it('still reads a format 2 report without it, and one with fields it does not know', () => {
    const cm: V1ConfigMap = {
      data: {
        ...{ node: 'cp-0', provider: 'kms-a', keyId: 'key-2', healthz: 'ok', version: 'v2' },
        observedAt: T0,
        format: '2',
        someLaterField: 'x',
      },
    };
    assert.deepEqual(fromConfigMap(cm), report);
  });

  it('ignores a first sighting that is not a time, and never puts one after the report', async () => {
    const bad: V1ConfigMap = {
      data: {
        ...{ node: 'cp-0', provider: 'kms-a', keyId: 'key-2', healthz: 'ok', version: 'v2' },
        observedAt: T0,
        format: '2',
        keyIdFirstSeen: 'yesterday-ish',
      },
    };
    assert.equal(fromConfigMap(bad)?.keyIdFirstSeen, undefined);
    const { api } = store();
    await writeReport(api, NS, { ...report, keyIdFirstSeen: '2031-01-01T00:00:00.000Z' });
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.equal(seen.observations[0]?.firstSeenAt, T0);
  });
});

describe('report KeyObserver: liveness and dates', () => {
  const NOW = Date.parse(T0) + 60_000;
  const clock = { now: () => new Date(NOW) };
  const NAME = 'key-id-report-cp-0-kms-a';
  const OLD = new Date(NOW - 60 * 60_000).toISOString(); // an hour ago: stale on its own

  function leases(renewTimes: Record<string, string>) {
    const reads: string[] = [];
    const api = {
      async readNamespacedLease({ name }: { name: string }) {
        reads.push(name);
        const renewTime = renewTimes[name];
        if (!renewTime) throw Object.assign(new Error('not found'), { code: 404 });
        return { metadata: { name }, spec: { renewTime } };
      },
    } as unknown as Pick<CoordinationApi, 'readNamespacedLease'>;
    return { api, reads };
  }

  it('round-trips livenessLease in format 2', async () => {
    const { maps, api } = store();
    await writeReport(api, NS, { ...report, livenessLease: NAME });
    assert.equal([...maps.values()][0]?.data?.format, '2');
    assert.deepEqual(await readReports(api, NS, 'kms-a'), [{ ...report, livenessLease: NAME }]);
  });

  it('takes a report unchanged for an hour as fresh while its Lease is renewed, observed as of the renewal', async () => {
    const { api } = store();
    await writeReport(api, NS, {
      ...report,
      observedAt: OLD,
      keyIdFirstSeen: OLD,
      livenessLease: NAME,
    });
    const renewed = new Date(NOW - 10_000).toISOString();
    const l = leases({ [NAME]: renewed });
    const seen = await createReportKeyObserver(api, {
      namespace: NS,
      clock,
      leases: l.api,
    }).observe('kms-a');
    assert.deepEqual(seen.observations, [
      {
        provider: 'kms-a',
        keyId: 'key-2',
        source: 'plugin-status',
        observedAt: renewed,
        firstSeenAt: OLD,
      },
    ]);
    assert.equal(seen.pluginHealth.status, 'healthy');
  });

  it('takes such a report as stale once its Lease is no longer renewed, or is gone', async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, observedAt: OLD, livenessLease: NAME });
    for (const renewTimes of [{ [NAME]: new Date(NOW - 10 * 60_000).toISOString() }, {}]) {
      const seen = await createReportKeyObserver(api, {
        namespace: NS,
        clock,
        leases: leases(renewTimes).api,
      }).observe('kms-a');
      assert.deepEqual(seen.observations, []);
      assert.equal(seen.pluginHealth.status, 'unknown');
    }
  });

  it('reads no Lease for a report of an older reporter, nor one the report does not own', async () => {
    const { api } = store();
    await writeReport(api, NS, report); // no livenessLease: a heartbeat reporter
    await writeReport(api, NS, {
      ...report,
      node: 'cp-1',
      observedAt: OLD,
      livenessLease: 'rekey-kms-a', // rekey's own step Lease, renewed by rekey: not this report's
    });
    const l = leases({ 'rekey-kms-a': new Date(NOW).toISOString() });
    const seen = await createReportKeyObserver(api, {
      namespace: NS,
      clock,
      leases: l.api,
    }).observe('kms-a');
    assert.deepEqual(l.reads, []);
    assert.deepEqual(
      seen.observations.map((o) => o.observedAt),
      [T0],
      'the older report by its own time, the other stale',
    );
  });

  it('ignores a report dated in the future beyond the skew allowance, however long it waits', async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, observedAt: '3000-01-01T00:00:00.000Z' });
    await writeReport(api, NS, {
      ...report,
      node: 'cp-1',
      observedAt: new Date(NOW + 10_000).toISOString(), // within the skew: fresh
    });
    const seen = await createReportKeyObserver(api, { namespace: NS, clock }).observe('kms-a');
    assert.deepEqual(
      seen.observations.map((o) => o.observedAt),
      [new Date(NOW + 10_000).toISOString()],
    );
  });

  it('ignores a report whose Lease is renewed in the future', async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, livenessLease: NAME });
    const l = leases({ [NAME]: '3000-01-01T00:00:00.000000Z' });
    const seen = await createReportKeyObserver(api, {
      namespace: NS,
      clock,
      leases: l.api,
    }).observe('kms-a');
    assert.deepEqual(seen.observations, []);
  });
});

describe('reported configurations (which kms provider writes, for an unpinned rekey)', () => {
  const clock = { now: () => new Date(Date.parse(T0) + 60_000) };
  const file = (hash: string) => ({
    hash,
    path: '/etc/kubernetes/enc/encryption-config.yaml',
    resources: [{ resources: ['secrets'], write: true }],
    entries: [
      {
        resources: ['secrets'],
        providers: [{ type: 'kms' as const, name: 'kms-b', apiVersion: 'v2' }],
      },
    ],
  });

  it("takes every fresh report's file, whatever provider it reports on; stale ones left out", async () => {
    const { api } = store();
    await writeReport(api, NS, { ...report, node: 'cp-0', encryptionConfig: file(HASH) });
    await writeReport(api, NS, {
      ...report,
      node: 'cp-1',
      provider: 'kms-b',
      encryptionConfig: file('sha256:b'),
    });
    await writeReport(api, NS, {
      ...report,
      node: 'cp-old',
      observedAt: '2029-01-01T00:00:00.000Z',
      encryptionConfig: file('sha256:stale'),
    });
    await writeReport(api, NS, { ...report, node: 'cp-2' }); // no file: nothing to read
    const read = await createReportedConfigs(api, { namespace: NS, clock }).read();
    assert.deepEqual(read.map((c) => [c.node, c.hash]).sort(), [
      ['cp-0', HASH],
      ['cp-1', 'sha256:b'],
    ]);
    assert.deepEqual(read[0]?.entries, file(HASH).entries);
  });
});
