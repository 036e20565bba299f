// The convergence gate (docs/architecture.md R3, docs/kms-facts.md §3, §4): a key_id may be
// migrated to only once every live apiserver writes with it. Rewriting earlier does nothing useful
// on the apiservers that have not adopted it. Where metrics cannot be read, or the set of live
// apiservers is unknown (no identity Leases), a configured wait stands in for the proof.

import { createHash } from 'node:crypto';
import { listNames } from './format.ts';
import { currentKeyIdHashes, type KeyIdStatusSample } from './key-id-metrics.ts';

/** How convergence was concluded: by the status metric, by waiting, or not (yet). */
export type ConvergenceVia = 'metrics' | 'fallback-wait' | 'none';

/** The gate's verdict; `pending` lists the `apiserver_id_hash` of apiservers not there yet. */
export interface ConvergenceVerdict {
  converged: boolean;
  via: ConvergenceVia;
  pending: string[];
  reason: string;
  /** With the fallback wait still running: how long until it ends. */
  waitRemainingMs?: number;
}

/** Inputs of {@link assessConvergence}. */
export interface ConvergenceInput {
  /** `sha256:` hash of the revision's key_id. */
  keyIdHash: string;
  provider: string;
  /** `apiserver_id_hash` of each live apiserver (from the identity Leases). */
  liveApiservers: readonly string[];
  /** Key-id status samples from every apiserver (all series; the newest per apiserver counts). */
  samples: readonly KeyIdStatusSample[];
  /** False when the apiservers' metrics could not be read (then `samples` are not evidence). */
  metricsReadable: boolean;
  /**
   * `apiserver_id_hash` of each apiserver whose `/readyz/kms-providers` check failed. Upstream
   * records the Status metric before it rotates its DEK, which can fail, so such an apiserver may
   * report the new key_id without writing with it: it stays pending.
   */
  kmsUnhealthy: readonly string[];
  /** When the key_id was first observed. */
  observedAt: Date | string;
  now: Date;
  fallbackWaitMs?: number;
}

/**
 * The `apiserver_id_hash` metric label of an apiserver: `sha256:` + hex(sha256(identity)), where
 * the identity is the name of its Lease in kube-system (`apiserver-<...>`).
 */
export function apiserverIdHash(leaseName: string): string {
  return `sha256:${createHash('sha256').update(leaseName, 'utf8').digest('hex')}`;
}

/**
 * Whether every live apiserver reports `keyIdHash` as its current key for `provider` and passes
 * its KMS health check. An apiserver without a sample, or whose check failed, is pending. Without
 * readable metrics, or without identity Leases (then no scrape can tell whether it reached every
 * apiserver: behind a load balancer, one scrape sees whichever apiserver answered), converged only
 * once `fallbackWaitMs` (default 5 minutes, above upstream's "3 + N + M minutes") passed since
 * `observedAt`; the reason says which.
 */
export function assessConvergence(input: ConvergenceInput): ConvergenceVerdict {
  if (!input.metricsReadable) return byWaiting(input, 'apiserver metrics unreadable');
  if (input.liveApiservers.length === 0) {
    return byWaiting(
      input,
      'no live identity Lease in kube-system, so the set of apiservers is unknown and their metrics prove nothing',
    );
  }
  return byMetrics(input);
}

function byMetrics({
  keyIdHash,
  provider,
  liveApiservers,
  samples,
  kmsUnhealthy,
}: ConvergenceInput): ConvergenceVerdict {
  const current = new Map<string, string>();
  for (const s of currentKeyIdHashes(samples)) {
    if (s.providerName === provider) current.set(s.apiserverIdHash, s.keyIdHash);
  }
  const failing = new Set(kmsUnhealthy);
  const targets = [...new Set(liveApiservers)];
  const who = `${targets.length} live apiserver(s)`;
  const key = `key ${short(keyIdHash)} for provider "${provider}"`;
  const pending = targets.filter((id) => current.get(id) !== keyIdHash || failing.has(id));
  if (pending.length === 0) {
    return verdict(true, 'metrics', [], `all ${who} report ${key}`);
  }
  const detail = pending.map((id) => {
    const seen = current.get(id);
    const what = seen === undefined ? 'no sample' : `reports ${short(seen)}`;
    return `${short(id)} (${what}${failing.has(id) ? ', its kms-providers check fails' : ''})`;
  });
  return verdict(
    false,
    'none',
    pending,
    `${pending.length} of ${who} have not adopted ${key}: ${listNames(detail)}`,
  );
}

function byWaiting(
  { liveApiservers, observedAt, now, fallbackWaitMs = 5 * 60_000 }: ConvergenceInput,
  why: string,
): ConvergenceVerdict {
  const since = typeof observedAt === 'string' ? Date.parse(observedAt) : observedAt.getTime();
  const pending = [...new Set(liveApiservers)];
  if (Number.isNaN(since)) {
    return verdict(false, 'none', pending, `${why} and the observation time is invalid`);
  }
  const remaining = since + fallbackWaitMs - now.getTime();
  const wait = `${Math.round(fallbackWaitMs / 1000)}s`;
  if (remaining <= 0) {
    return verdict(
      true,
      'fallback-wait',
      [],
      `${why}: assumed adopted after the ${wait} fallback wait since the key_id was observed (not proven)`,
    );
  }
  return {
    ...verdict(
      false,
      'none',
      pending,
      `${why}: waiting ${Math.ceil(remaining / 1000)}s more of the ${wait} fallback wait`,
    ),
    waitRemainingMs: remaining,
  };
}

function verdict(
  converged: boolean,
  via: ConvergenceVia,
  pending: string[],
  reason: string,
): ConvergenceVerdict {
  return { converged, via, pending, reason };
}

/** `sha256:0123456789ab`: enough to tell hashes apart in a status line. */
function short(hash: string): string {
  return hash.length > 19 ? hash.slice(0, 19) : hash;
}
