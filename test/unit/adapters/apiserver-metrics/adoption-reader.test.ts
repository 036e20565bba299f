// The adoption reader (shared/adapters/apiserver-metrics/adoption-reader.ts) against a fake cluster
// of apiservers behind one RestClient: which endpoints it scrapes (configured, discovered from the
// `kubernetes` EndpointSlices, or the connection's server), which identity Leases count as live,
// and which apiservers fail their kms-providers check; and, against a real HTTPS stand-in, that a
// large /metrics is streamed keeping only the key_id series, and never read past its bound.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  createAdoptionReader,
  KMS_CHECK_PATH,
} from '../../../../shared/adapters/apiserver-metrics/adoption-reader.ts';
import { KUBERNETES_SLICES_PATH } from '../../../../shared/adapters/apiserver-metrics/endpoint-discovery.ts';
import {
  createRestClient,
  type RestClient,
  type RestRequest,
} from '../../../../shared/adapters/k8s/rest-client.ts';
import { apiserverIdHash, assessConvergence } from '../../../../shared/domain/convergence.ts';
import { keyIdHash } from '../../../../shared/domain/key-id.ts';
import { KEY_ID_STATUS_METRIC } from '../../../../shared/domain/key-id-metrics.ts';
import { createPki } from '../../../support/sandbox/pki.ts';

const NOW = new Date('2025-01-01T01:00:00Z');
const LB = 'https://api.example:6443';
const K2 = keyIdHash('k2');

interface FakeApiserver {
  /** Lease name, i.e. the identity `apiserver_id_hash` derives from. */
  identity: string;
  url: string;
  /** Seconds since its identity Lease was renewed; undefined = it has no Lease. */
  renewedSecondsAgo?: number;
  metricsStatus?: number;
  kmsCheckStatus?: number;
  reports?: string;
}

const A: FakeApiserver = { identity: 'apiserver-a', url: 'https://10.0.0.11:6443', reports: K2 };
const B: FakeApiserver = { identity: 'apiserver-b', url: 'https://10.0.0.12:6443', reports: K2 };
const idOf = (a: FakeApiserver) => apiserverIdHash(a.identity);

function metricsOf(a: FakeApiserver): string {
  return [
    `# TYPE ${KEY_ID_STATUS_METRIC} gauge`,
    `${KEY_ID_STATUS_METRIC}{apiserver_id_hash="${idOf(a)}",key_id_hash="${a.reports}",provider_name="p"} 1.7e9`,
  ].join('\n');
}

/**
 * A cluster of apiservers: each answers for its own URL; the connection's server (LB) answers as
 * the first of them, as a load balancer would; the EndpointSlices answer `slices` (a status code
 * or the addresses they list).
 */
function cluster(
  apiservers: FakeApiserver[],
  slices: number | readonly FakeApiserver[] = apiservers,
) {
  const requests: RestRequest[] = [];
  const rest: RestClient = {
    async request(req) {
      requests.push(req);
      const server = req.server ?? LB;
      if (req.path === KUBERNETES_SLICES_PATH) {
        if (typeof slices === 'number') return { status: slices, headers: {}, body: 'forbidden' };
        const endpoints = slices.map((a) => ({
          addresses: [new URL(a.url).hostname],
          conditions: { ready: true },
        }));
        const items = [{ addressType: 'IPv4', ports: [{ name: 'https', port: 6443 }], endpoints }];
        return { status: 200, headers: {}, body: JSON.stringify({ items }) };
      }
      const a = server === LB ? apiservers[0] : apiservers.find((x) => x.url === server);
      if (!a) return { status: 0, headers: {}, body: 'connect ECONNREFUSED' };
      if (req.path === '/metrics') {
        const status = a.metricsStatus ?? 200;
        return { status, headers: {}, body: status === 200 ? metricsOf(a) : 'forbidden' };
      }
      if (req.path === KMS_CHECK_PATH) {
        const status = a.kmsCheckStatus ?? 200;
        const body = status === 200 ? 'ok' : '[-]kms-providers failed: reason withheld';
        return { status, headers: {}, body };
      }
      return { status: 404, headers: {}, body: '' };
    },
    close() {},
  };
  const coordination = {
    async listNamespacedLease() {
      const items = apiservers
        .filter((a) => a.renewedSecondsAgo !== undefined)
        .map((a) => ({
          metadata: { name: a.identity },
          spec: {
            leaseDurationSeconds: 3600,
            renewTime: new Date(NOW.getTime() - (a.renewedSecondsAgo ?? 0) * 1000),
          },
        }));
      return { items } as never;
    },
  };
  const reader = (apiserverUrls?: readonly string[]) =>
    createAdoptionReader({
      rest,
      coordination,
      apiserverUrls,
      fallbackServer: LB,
      clock: { now: () => new Date(NOW) },
    });
  const scraped = () =>
    requests.filter((r) => r.path === '/metrics').map((r) => r.server ?? '(connection)');
  return { reader, requests, scraped };
}

const live = (a: FakeApiserver, over: Partial<FakeApiserver> = {}) => ({
  ...a,
  renewedSecondsAgo: 5,
  ...over,
});

describe('adoption reader: which apiservers it scrapes', () => {
  it('without configured URLs, scrapes each apiserver the kubernetes EndpointSlices list', async () => {
    const c = cluster([live(A), live(B)]);
    const s = await c.reader().read();
    assert.deepEqual(s.endpoints, { source: 'discovered', servers: [A.url, B.url] });
    assert.deepEqual(c.scraped().sort(), [A.url, B.url]);
    const asked = c.requests.find((r) => r.path === KUBERNETES_SLICES_PATH);
    assert.deepEqual(asked?.query, { labelSelector: 'kubernetes.io/service-name=kubernetes' });
    assert.equal(s.metricsReadable, true);
    assert.deepEqual(new Set(s.samples.map((x) => x.apiserverIdHash)), new Set([idOf(A), idOf(B)]));
  });

  it('configured URLs are scraped as given, without discovery', async () => {
    const c = cluster([live(A), live(B)]);
    const s = await c.reader([B.url]).read();
    assert.deepEqual(s.endpoints, { source: 'configured', servers: [B.url] });
    assert.deepEqual(c.scraped(), [B.url]);
    assert.equal(c.requests.filter((r) => r.path === KUBERNETES_SLICES_PATH).length, 0);
    assert.equal(s.metricsReadable, false, 'A is live and was not reached');
  });

  for (const [why, slices] of [
    ['discovery is forbidden', 403],
    ['the EndpointSlices list no address', []],
  ] as const) {
    it(`falls back to the connection's server when ${why}, and says so`, async () => {
      const c = cluster([live(A), live(B)], slices);
      const s = await c.reader().read();
      assert.equal(s.endpoints.source, 'fallback');
      assert.deepEqual(s.endpoints.servers, [LB]);
      assert.ok(s.endpoints.note);
      assert.deepEqual(c.scraped(), [LB]);
      // the load balancer answered as A only: B is live but unseen, so nothing is proven
      assert.equal(s.metricsReadable, false);
      assert.match(s.unreadableReason ?? '', /no metrics reached from live apiserver\(s\) sha256:/);
      assert.match(s.unreadableReason ?? '', /only https:\/\/api\.example:6443 was scraped: /);
    });
  }

  it('a failed scrape makes the metrics unreadable and names the apiserver', async () => {
    const c = cluster([live(A), live(B, { metricsStatus: 403 })]);
    const s = await c.reader().read();
    assert.equal(s.metricsReadable, false);
    assert.match(s.unreadableReason ?? '', /https:\/\/10\.0\.0\.12:6443: HTTP 403 forbidden/);
  });

  it('hurry asks each apiserver of the last read, and never throws', async () => {
    const c = cluster([live(A), live(B)]);
    const r = c.reader();
    await r.read();
    const before = c.requests.length;
    await r.hurry();
    const hurried = c.requests.slice(before);
    assert.deepEqual(hurried.map((x) => `${x.server} ${x.path}`).sort(), [
      `${A.url} ${KMS_CHECK_PATH}`,
      `${B.url} ${KMS_CHECK_PATH}`,
    ]);
    const broken = createAdoptionReader({
      rest: { request: () => Promise.reject(new Error('boom')), close() {} },
      coordination: { listNamespacedLease: () => Promise.reject(new Error('boom')) },
      fallbackServer: LB,
      clock: { now: () => NOW },
    });
    await broken.hurry();
  });
});

describe('adoption reader: live apiservers', () => {
  it('an apiserver whose Lease was not renewed for a minute is not live (its hour notwithstanding)', async () => {
    const c = cluster([live(A), live(B, { renewedSecondsAgo: 60 })], [A]);
    const s = await c.reader().read();
    assert.deepEqual(s.liveApiservers, [idOf(A)]);
    assert.equal(s.metricsReadable, true, 'the dead apiserver is not waited for');
  });

  it('no Lease at all: no live set, and the gate does not conclude from the scrape', async () => {
    const c = cluster([A]);
    const s = await c.reader().read();
    assert.deepEqual(s.liveApiservers, []);
    const v = assessConvergence({
      keyIdHash: K2,
      provider: 'p',
      ...s,
      observedAt: new Date(NOW.getTime() - 60_000),
      now: NOW,
    });
    assert.equal(v.converged, false);
    assert.match(v.reason, /no live identity Lease/);
  });
});

describe('adoption reader: kms-providers checks', () => {
  it('names the apiserver whose kms-providers check fails, and the gate keeps it pending', async () => {
    const c = cluster([live(A), live(B, { kmsCheckStatus: 500 })]);
    const s = await c.reader().read();
    assert.deepEqual(s.kmsUnhealthy, [idOf(B)]);
    assert.equal(s.metricsReadable, true);
    assert.deepEqual(
      c.requests
        .filter((r) => r.path === KMS_CHECK_PATH)
        .map((r) => r.server)
        .sort(),
      [A.url, B.url],
    );
    const v = assessConvergence({
      keyIdHash: K2,
      provider: 'p',
      ...s,
      observedAt: NOW,
      now: NOW,
    });
    assert.deepEqual(
      { converged: v.converged, pending: v.pending },
      {
        converged: false,
        pending: [idOf(B)],
      },
    );
  });

  it('any answer but 200 is a failed check (forbidden, unreachable)', async () => {
    const c = cluster([live(A, { kmsCheckStatus: 403 }), live(B, { kmsCheckStatus: 0 })]);
    const s = await c.reader().read();
    assert.deepEqual(new Set(s.kmsUnhealthy), new Set([idOf(A), idOf(B)]));
  });

  it('all checks pass: nobody is unhealthy and the gate converges', async () => {
    const c = cluster([live(A), live(B)]);
    const s = await c.reader().read();
    assert.deepEqual(s.kmsUnhealthy, []);
    const v = assessConvergence({ keyIdHash: K2, provider: 'p', ...s, observedAt: NOW, now: NOW });
    assert.equal(v.converged, true);
    assert.equal(v.via, 'metrics');
  });
});

describe("adoption reader: an apiserver's /metrics is streamed, not held whole", () => {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-metrics-'));
  let server: HttpsServer;
  let url = '';
  let rest: RestClient;
  /** What the stand-in apiserver wrote of /metrics, in bytes. */
  let sent = 0;
  const id = apiserverIdHash('apiserver-big');
  const series = `${KEY_ID_STATUS_METRIC}{apiserver_id_hash="${id}",key_id_hash="${K2}",provider_name="p"} 1.7e9`;
  /** ~24 MB of other families (histograms of a large cluster), the key_id series in the middle. */
  function* exposition(): Generator<string> {
    const filler = (i: number) =>
      `apiserver_request_duration_seconds_bucket{component="apiserver",group="",resource="secrets",scope="namespace",subresource="",verb="LIST",version="v1",le="${i}",note="ünïcödé"} ${i}\n`;
    for (let block = 0; block < 200; block++) {
      let text = '';
      for (let i = 0; i < 1000; i++) text += filler(block * 1000 + i);
      if (block === 100) text += `# TYPE ${KEY_ID_STATUS_METRIC} gauge\n${series}\n`;
      yield text;
    }
  }
  before(async () => {
    const pki = await createPki(dir);
    const { certFile, keyFile } = await pki.issueServing('apiserver', ['127.0.0.1'], []);
    server = createHttpsServer(
      { cert: readFileSync(certFile), key: readFileSync(keyFile) },
      async (req, res) => {
        if (req.url !== '/metrics') return res.writeHead(200).end('ok');
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        for (const chunk of exposition()) {
          if (res.destroyed) return;
          sent += Buffer.byteLength(chunk);
          if (!res.write(chunk)) await once(res, 'drain').catch(() => undefined);
        }
        res.end();
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const addr = server.address();
    url = `https://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
    const ca = readFileSync(pki.caFile);
    rest = createRestClient({
      server: url,
      authorize: async (opts) => {
        opts.ca = ca;
      },
    });
  });
  after(() => {
    rest.close();
    server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A reader of the stand-in; `held` gets each /metrics body the REST client answered. */
  const reader = (held: string[] = [], maxMetricsBytes?: number) =>
    createAdoptionReader({
      rest: {
        async request(req) {
          const res = await rest.request(req);
          if (req.path === '/metrics') held.push(res.body);
          return res;
        },
        close() {},
      },
      coordination: {
        async listNamespacedLease() {
          const renewTime = new Date(NOW.getTime() - 5_000);
          const lease = {
            metadata: { name: 'apiserver-big' },
            spec: { leaseDurationSeconds: 3600, renewTime },
          };
          return { items: [lease] } as never;
        },
      },
      apiserverUrls: [url],
      fallbackServer: url,
      clock: { now: () => new Date(NOW) },
      ...(maxMetricsBytes === undefined ? {} : { maxMetricsBytes }),
    });

  it('keeps only the key_id status series of a 24 MB exposition', async () => {
    const recorded: string[] = [];
    const r = reader(recorded);
    const s = await r.read();
    assert.equal(s.metricsReadable, true, s.unreadableReason);
    assert.deepEqual(
      s.samples.map((x) => [x.apiserverIdHash, x.keyIdHash]),
      [[id, K2]],
    );
    const lengths = recorded.map((b) => b.length);
    assert.deepEqual(lengths, [series.length + 1], 'what was held of /metrics: one line');
    assert.deepEqual(recorded, [`${series}\n`]);
  });

  it('stops reading past its bound and says the metrics are unreadable', async () => {
    sent = 0;
    const s = await reader([], 1024 * 1024).read();
    assert.equal(s.metricsReadable, false);
    assert.match(s.unreadableReason ?? '', /over 1048576 bytes/);
    assert.ok(sent < 24_000_000, `the rest was never sent (${sent} bytes written)`);
  });
});
