// The AdoptionReader port: live apiservers from their identity Leases (fresh ones only, see
// shared/domain/apiserver-identity.ts), and what each one's KMS plugin last reported, scraped from
// every apiserver's own /metrics (not whichever one a Service load-balances to), together with
// each one's /readyz/kms-providers check: the Status metric is recorded before the apiserver
// rotates its DEK, so it alone does not prove the apiserver writes with the key. An apiserver's
// /metrics runs to megabytes on a large cluster: it is read as a stream, line by line, keeping
// only the key_id status family, and never past MAX_METRICS_BYTES (rekey runs in a small heap).
import { liveApiserverIds } from '../../domain/apiserver-identity.ts';
import { oneLine } from '../../domain/format.ts';
import {
  KEY_ID_STATUS_METRIC,
  type KeyIdStatusSample,
  parseKeyIdStatus,
} from '../../domain/key-id-metrics.ts';
import type {
  AdoptionReader,
  AdoptionSnapshot,
  ScrapedEndpoints,
} from '../../ports/adoption-reader.ts';
import type { Clock } from '../../ports/clock.ts';
import type { RestClient } from '../k8s/rest-client.ts';
import type { CoordinationApi } from '../k8s/typed-api.ts';
import { discoverApiserverUrls } from './endpoint-discovery.ts';

export const IDENTITY_LEASE_SELECTOR = 'apiserver.kubernetes.io/identity=kube-apiserver';
export const KMS_CHECK_PATH = '/readyz/kms-providers';

/**
 * The most of one apiserver's /metrics read (64 MiB, several times what a large cluster's
 * apiserver exposes). Only the kept lines are held, so this bounds the time and bandwidth of a
 * scrape, not memory; an exposition past it is reported unreadable rather than half-read.
 */
export const MAX_METRICS_BYTES = 64 * 1024 * 1024;

/** The only lines of /metrics rekey reads: the KMS key_id status series (no HELP/TYPE needed). */
const KEY_ID_STATUS_SERIES = `${KEY_ID_STATUS_METRIC}{`;
const isKeyIdStatusLine = (line: string) => line.startsWith(KEY_ID_STATUS_SERIES);

export interface AdoptionReaderOptions {
  rest: RestClient;
  coordination: Pick<CoordinationApi, 'listNamespacedLease'>;
  /**
   * Base URLs of every apiserver, each scraped on its own (REKEY_APISERVER_URLS). Undefined:
   * discover them from the `kubernetes` Service's EndpointSlices on every read.
   */
  apiserverUrls?: readonly string[] | undefined;
  /** The connection's server: scraped alone when discovery finds no apiserver. */
  fallbackServer: string;
  clock: Clock;
  timeoutMs?: number;
  /** Largest /metrics body read from one apiserver (default {@link MAX_METRICS_BYTES}). */
  maxMetricsBytes?: number;
}

interface Scrape {
  server: string;
  samples?: KeyIdStatusSample[];
  error?: string;
  kmsCheckFailed: boolean;
}

export function createAdoptionReader({
  rest,
  coordination,
  apiserverUrls,
  fallbackServer,
  clock,
  timeoutMs = 10_000,
  maxMetricsBytes = MAX_METRICS_BYTES,
}: AdoptionReaderOptions): AdoptionReader {
  let lastServers: string[] | undefined;

  async function endpoints(): Promise<ScrapedEndpoints> {
    if (apiserverUrls !== undefined) return { source: 'configured', servers: [...apiserverUrls] };
    const found = await discoverApiserverUrls(rest, { timeoutMs });
    return 'urls' in found
      ? { source: 'discovered', servers: found.urls }
      : { source: 'fallback', servers: [fallbackServer], note: found.problem };
  }

  async function liveApiservers(): Promise<string[]> {
    const leases = await coordination.listNamespacedLease({
      namespace: 'kube-system',
      labelSelector: IDENTITY_LEASE_SELECTOR,
    });
    return liveApiserverIds(
      leases.items.map((l) => ({
        name: l.metadata?.name ?? '',
        renewTime: l.spec?.renewTime,
        leaseDurationSeconds: l.spec?.leaseDurationSeconds,
      })),
      clock.now(),
    );
  }

  const get = (server: string, path: string) =>
    rest.request({ path, server, accept: 'text/plain', timeoutMs });

  async function scrape(server: string): Promise<Scrape> {
    const [metrics, check] = await Promise.all([
      rest.request({
        path: '/metrics',
        server,
        accept: 'text/plain',
        timeoutMs,
        keepLines: isKeyIdStatusLine,
        maxBodyBytes: maxMetricsBytes,
      }),
      get(server, KMS_CHECK_PATH),
    ]);
    const kmsCheckFailed = check.status !== 200;
    if (metrics.truncated) {
      return {
        server,
        error: `/metrics is over ${maxMetricsBytes} bytes: not read`,
        kmsCheckFailed,
      };
    }
    return metrics.status === 200
      ? { server, samples: parseKeyIdStatus(metrics.body), kmsCheckFailed }
      : {
          server,
          error: `HTTP ${metrics.status} ${oneLine(metrics.body, { max: 120 })}`.trim(),
          kmsCheckFailed,
        };
  }

  return {
    async read(): Promise<AdoptionSnapshot> {
      const [live, scraped] = await Promise.all([liveApiservers(), endpoints()]);
      lastServers = scraped.servers;
      const scrapes = await Promise.all(scraped.servers.map(scrape));
      const samples = scrapes.flatMap((s) => s.samples ?? []);
      const failed = scrapes.filter((s) => s.error).map((s) => `${s.server}: ${s.error}`);
      // every series of one apiserver's /metrics carries that apiserver's own id
      const kmsUnhealthy = new Set(
        scrapes
          .filter((s) => s.kmsCheckFailed)
          .flatMap((s) => (s.samples ?? []).map((x) => x.apiserverIdHash))
          .filter((id) => id !== ''),
      );
      const seen = new Set(samples.map((s) => s.apiserverIdHash));
      const unseen = live.filter((h) => !seen.has(h));
      const snapshot: AdoptionSnapshot = {
        liveApiservers: live,
        samples,
        kmsUnhealthy: [...kmsUnhealthy],
        metricsReadable: failed.length === 0 && unseen.length === 0 && scraped.servers.length > 0,
        endpoints: scraped,
      };
      if (!snapshot.metricsReadable) {
        const problems =
          scraped.servers.length === 0
            ? ['no apiserver URLs configured to scrape']
            : [
                ...failed,
                ...(unseen.length
                  ? [`no metrics reached from live apiserver(s) ${unseen.join(', ')}`]
                  : []),
              ];
        if (scraped.note) problems.push(`only ${fallbackServer} was scraped: ${scraped.note}`);
        snapshot.unreadableReason = problems.join('; ');
      }
      return snapshot;
    },
    async hurry() {
      try {
        const servers = lastServers ?? (await endpoints()).servers;
        await Promise.all(
          servers.map((server) => get(server, KMS_CHECK_PATH).catch(() => undefined)),
        );
      } catch {
        // best effort: the next read tells what the apiservers report
      }
    },
  };
}
