// Port: the evidence for the convergence gate (docs/kms-facts.md §4).

import type { KeyIdStatusSample } from '../domain/key-id-metrics.ts';

/**
 * Where the scraped apiservers came from: the explicit list (REKEY_APISERVER_URLS), the
 * `kubernetes` Service's EndpointSlices, or, when those found nothing, the connection's own
 * server (one apiserver, or a load balancer in front of several).
 */
export type ApiserverEndpointSource = 'configured' | 'discovered' | 'fallback';

/** Which apiservers a snapshot scraped, and how they were found. */
export interface ScrapedEndpoints {
  source: ApiserverEndpointSource;
  servers: string[];
  /** Why discovery gave nothing, when `source` is `fallback`. */
  note?: string;
}

/** Live apiservers and what each reports, as one snapshot. */
export interface AdoptionSnapshot {
  /** `apiserver_id_hash` of each live apiserver (identity Leases in kube-system). */
  liveApiservers: string[];
  /** Key-id status samples scraped from every apiserver. */
  samples: KeyIdStatusSample[];
  /**
   * `apiserver_id_hash` of each scraped apiserver whose `/readyz/kms-providers` check did not
   * answer 200: its Status metric alone does not prove it writes with the key.
   */
  kmsUnhealthy: string[];
  /** False unless the metrics of every live apiserver were read. */
  metricsReadable: boolean;
  /** Why the metrics could not be read, when they could not. */
  unreadableReason?: string;
  endpoints: ScrapedEndpoints;
}

/**
 * Reads key_id adoption. Guarantees: `metricsReadable` is true only when every live apiserver's
 * metrics were scraped (each endpoint, not whichever one the Service picked); each scraped
 * apiserver's `/readyz/kms-providers` check is part of the snapshot; `hurry` asks each apiserver to
 * re-check its plugin now (`/readyz/kms-providers`), best effort, never throwing.
 */
export interface AdoptionReader {
  read(): Promise<AdoptionSnapshot>;
  hurry(): Promise<void>;
}
