// Port: the evidence for the convergence gate (docs/kms-facts.md §4).

import type { KeyIdStatusSample } from '../domain/key-id-metrics.ts';

/** Live apiservers and what each reports, as one snapshot. */
export interface AdoptionSnapshot {
  /** `apiserver_id_hash` of each live apiserver (identity Leases in kube-system). */
  liveApiservers: string[];
  /** Key-id status samples scraped from every apiserver. */
  samples: KeyIdStatusSample[];
  /** False unless the metrics of every live apiserver were read. */
  metricsReadable: boolean;
  /** Why the metrics could not be read, when they could not. */
  unreadableReason?: string;
}

/**
 * Reads key_id adoption. Guarantees: `metricsReadable` is true only when every live apiserver's
 * metrics were scraped (each endpoint, not whichever one the Service picked); `hurry` asks each
 * apiserver to re-check its plugin now (`/readyz/kms-providers`), best effort, never throwing.
 */
export interface AdoptionReader {
  read(): Promise<AdoptionSnapshot>;
  hurry(): Promise<void>;
}
