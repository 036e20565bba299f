// The AdoptionReader port: live apiservers from their identity Leases, and what each one's KMS
// plugin last reported, scraped from every apiserver's own /metrics (not whichever one a
// Service load-balances to).
import { apiserverIdHash } from '../../domain/convergence.ts';
import { parseKeyIdStatus } from '../../domain/key-id-metrics.ts';
import type { AdoptionReader, AdoptionSnapshot } from '../../ports/adoption-reader.ts';
import type { Clock } from '../../ports/clock.ts';
import type { RestClient } from '../k8s/rest-client.ts';
import type { CoordinationApi } from '../k8s/typed-api.ts';

export const IDENTITY_LEASE_SELECTOR = 'apiserver.kubernetes.io/identity=kube-apiserver';

export interface AdoptionReaderOptions {
  rest: RestClient;
  coordination: Pick<CoordinationApi, 'listNamespacedLease'>;
  /** Base URLs of every apiserver (each scraped on its own). */
  apiserverUrls: readonly string[];
  clock: Clock;
  timeoutMs?: number;
}

export function createAdoptionReader({
  rest,
  coordination,
  apiserverUrls,
  clock,
  timeoutMs = 10_000,
}: AdoptionReaderOptions): AdoptionReader {
  async function liveApiservers(): Promise<string[]> {
    const leases = await coordination.listNamespacedLease({
      namespace: 'kube-system',
      labelSelector: IDENTITY_LEASE_SELECTOR,
    });
    const now = clock.now().getTime();
    return leases.items
      .filter((l) => {
        const renew = l.spec?.renewTime;
        const secs = l.spec?.leaseDurationSeconds ?? 3600;
        return renew !== undefined && new Date(renew).getTime() + secs * 1000 > now;
      })
      .map((l) => apiserverIdHash(l.metadata?.name ?? ''));
  }

  return {
    async read(): Promise<AdoptionSnapshot> {
      const live = await liveApiservers();
      const scrapes = await Promise.all(
        apiserverUrls.map(async (server) => {
          const r = await rest.request({
            path: '/metrics',
            server,
            accept: 'text/plain',
            timeoutMs,
          });
          return r.status === 200
            ? { server, samples: parseKeyIdStatus(r.body) }
            : { server, error: `HTTP ${r.status} ${r.body.slice(0, 120)}`.trim() };
        }),
      );
      const samples = scrapes.flatMap((s) => s.samples ?? []);
      const failed = scrapes.filter((s) => s.error).map((s) => `${s.server}: ${s.error}`);
      const seen = new Set(samples.map((s) => s.apiserverIdHash));
      const unseen = live.filter((h) => !seen.has(h));
      const snapshot: AdoptionSnapshot = {
        liveApiservers: live,
        samples,
        metricsReadable: failed.length === 0 && unseen.length === 0 && apiserverUrls.length > 0,
      };
      if (!snapshot.metricsReadable) {
        snapshot.unreadableReason =
          apiserverUrls.length === 0
            ? 'no apiserver URLs configured to scrape'
            : [
                ...failed,
                ...(unseen.length
                  ? [`no metrics reached from live apiserver(s) ${unseen.join(', ')}`]
                  : []),
              ].join('; ');
      }
      return snapshot;
    },
    async hurry() {
      await Promise.all(
        apiserverUrls.map((server) =>
          rest
            .request({ path: '/readyz/kms-providers', server, accept: 'text/plain', timeoutMs })
            .catch(() => undefined),
        ),
      );
    },
  };
}
