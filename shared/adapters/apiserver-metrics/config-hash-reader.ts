// Reads which EncryptionConfiguration every live apiserver has applied: the hash each one exports
// in its own /metrics (not whichever one a Service load-balances to), with its reload failures,
// and its node from its identity Lease, so a switch can wait for each apiserver to report the
// hash of the file its own node agent wrote. /metrics is streamed keeping only the two
// encryption-config families, and never read past maxMetricsBytes.
import { liveApiserverIds } from '../../domain/apiserver-identity.ts';
import { apiserverIdHash } from '../../domain/convergence.ts';
import type { ApiserverConfigState } from '../../domain/encryption-revisions/config-convergence.ts';
import {
  isConfigMetricLine,
  parseConfigMetrics,
} from '../../domain/encryption-revisions/config-metrics.ts';
import { oneLine } from '../../domain/format.ts';
import type { Clock } from '../../ports/clock.ts';
import type { RestClient } from '../k8s/rest-client.ts';
import type { CoordinationApi } from '../k8s/typed-api.ts';
import { IDENTITY_LEASE_SELECTOR, MAX_METRICS_BYTES } from './adoption-reader.ts';
import { discoverApiserverUrls } from './endpoint-discovery.ts';

const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface ConfigHashSnapshot {
  /** Every live apiserver, with the hash it reports (undefined when none was read). */
  live: ApiserverConfigState[];
  /** False when a scrape failed or a live apiserver's metrics were not reached. */
  readable: boolean;
  unreadableReason?: string;
}

export interface ConfigHashReaderOptions {
  rest: RestClient;
  coordination: Pick<CoordinationApi, 'listNamespacedLease'>;
  /** Every apiserver's base URL; undefined: discovered from the `kubernetes` EndpointSlices. */
  apiserverUrls?: readonly string[] | undefined;
  /** Scraped alone when discovery finds no apiserver. */
  fallbackServer: string;
  clock: Clock;
  timeoutMs?: number;
  maxMetricsBytes?: number;
}

export interface ConfigHashReader {
  read(): Promise<ConfigHashSnapshot>;
}

export function createConfigHashReader({
  rest,
  coordination,
  apiserverUrls,
  fallbackServer,
  clock,
  timeoutMs = 10_000,
  maxMetricsBytes = MAX_METRICS_BYTES,
}: ConfigHashReaderOptions): ConfigHashReader {
  async function servers(): Promise<{ urls: string[]; note?: string }> {
    if (apiserverUrls !== undefined) return { urls: [...apiserverUrls] };
    const found = await discoverApiserverUrls(rest, { timeoutMs });
    return 'urls' in found ? found : { urls: [fallbackServer], note: found.problem };
  }

  async function liveNodes(): Promise<Map<string, string | undefined>> {
    const leases = await coordination.listNamespacedLease({
      namespace: 'kube-system',
      labelSelector: IDENTITY_LEASE_SELECTOR,
    });
    const nodeOf = new Map<string, string | undefined>();
    for (const l of leases.items) {
      const name = l.metadata?.name ?? '';
      if (name) nodeOf.set(apiserverIdHash(name), l.metadata?.labels?.[HOSTNAME_LABEL]);
    }
    const live = liveApiserverIds(
      leases.items.map((l) => ({
        name: l.metadata?.name ?? '',
        renewTime: l.spec?.renewTime,
        leaseDurationSeconds: l.spec?.leaseDurationSeconds,
      })),
      clock.now(),
    );
    return new Map(live.map((id) => [id, nodeOf.get(id)]));
  }

  async function scrape(server: string) {
    try {
      const r = await rest.request({
        path: '/metrics',
        server,
        accept: 'text/plain',
        timeoutMs,
        keepLines: isConfigMetricLine,
        maxBodyBytes: maxMetricsBytes,
      });
      if (r.truncated) return { error: `${server}: /metrics is over ${maxMetricsBytes} bytes` };
      if (r.status !== 200) {
        return { error: `${server}: HTTP ${r.status} ${oneLine(r.body, { max: 120 })}`.trim() };
      }
      return { parsed: parseConfigMetrics(r.body) };
    } catch (err) {
      return { error: `${server}: ${(err as Error).message}` };
    }
  }

  return {
    async read() {
      const [live, scraped] = await Promise.all([liveNodes(), servers()]);
      const results = await Promise.all(scraped.urls.map(scrape));
      const applied = new Map<string, string>();
      const failures = new Map<string, number>();
      for (const r of results) {
        for (const s of r.parsed?.applied ?? []) applied.set(s.apiserverIdHash, s.hash);
        for (const c of r.parsed?.reloads ?? []) failures.set(c.apiserverIdHash, c.failure);
      }
      const states: ApiserverConfigState[] = [...live].map(([id, node]) => ({
        id,
        node,
        applied: applied.get(id),
        reloadFailures: failures.get(id) ?? 0,
      }));
      const problems = results.flatMap((r) => (r.error ? [r.error] : []));
      const unseen = states.filter((s) => s.applied === undefined).map((s) => s.node ?? s.id);
      if (unseen.length > 0) problems.push(`no configuration hash from ${unseen.join(', ')}`);
      if (scraped.note && problems.length > 0) {
        problems.push(`only ${fallbackServer} was scraped: ${scraped.note}`);
      }
      return problems.length === 0 && states.length > 0
        ? { live: states, readable: true }
        : {
            live: states,
            readable: false,
            unreadableReason: problems.join('; ') || 'no live apiserver',
          };
    },
  };
}
