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
import type { CoreApi } from '../../../../shared/adapters/k8s/typed-api.ts';

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
