// The convergence gate (docs/architecture.md R3, docs/kms-facts.md §3, §4): a key_id may be
// migrated to only once every live apiserver writes with it. Rewriting earlier does nothing useful
// on the apiservers that have not adopted it. Where metrics cannot be read, a configured wait
// stands in for the proof.

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
 * Whether every live apiserver reports `keyIdHash` as its current key for `provider`. An apiserver
 * without a sample is pending. With no identity Leases known, the apiservers seen in the metrics
 * stand in for the live set (and the reason says so). Without readable metrics, converged only once
 * `fallbackWaitMs` (default 5 minutes, above upstream's "3 + N + M minutes") passed since `observedAt`.
 */
export function assessConvergence(input: ConvergenceInput): ConvergenceVerdict {
  return input.metricsReadable ? byMetrics(input) : byWaiting(input);
}

function byMetrics({
  keyIdHash,
  provider,
  liveApiservers,
  samples,
}: ConvergenceInput): ConvergenceVerdict {
  const current = new Map<string, string>();
  for (const s of currentKeyIdHashes(samples)) {
    if (s.providerName === provider) current.set(s.apiserverIdHash, s.keyIdHash);
  }
  const fromLeases = liveApiservers.length > 0;
  const targets = fromLeases ? [...new Set(liveApiservers)] : [...current.keys()];
  if (targets.length === 0) {
    return verdict(false, 'none', [], `no apiserver reports provider "${provider}" in its metrics`);
  }
  const who = fromLeases
    ? `${targets.length} live apiserver(s)`
    : `${targets.length} apiserver(s) seen in metrics`;
  const note = fromLeases
    ? ''
    : ' (no identity Leases known: the live set was taken from the metrics)';
  const key = `key ${short(keyIdHash)} for provider "${provider}"`;
  const pending = targets.filter((id) => current.get(id) !== keyIdHash);
  if (pending.length === 0) {
    return verdict(true, 'metrics', [], `all ${who} report ${key}${note}`);
  }
  const detail = pending.map((id) => {
    const seen = current.get(id);
    return `${short(id)} (${seen === undefined ? 'no sample' : `reports ${short(seen)}`})`;
  });
  return verdict(
    false,
    'none',
    pending,
    `${pending.length} of ${who} have not adopted ${key}: ${listNames(detail)}${note}`,
  );
}

function byWaiting({
  liveApiservers,
  observedAt,
  now,
  fallbackWaitMs = 5 * 60_000,
}: ConvergenceInput): ConvergenceVerdict {
  const since = typeof observedAt === 'string' ? Date.parse(observedAt) : observedAt.getTime();
  const pending = [...new Set(liveApiservers)];
  if (Number.isNaN(since)) {
    return verdict(
      false,
      'none',
      pending,
      'metrics unreadable and the observation time is invalid',
    );
  }
  const remaining = since + fallbackWaitMs - now.getTime();
  const wait = `${Math.round(fallbackWaitMs / 1000)}s`;
  if (remaining <= 0) {
    return verdict(
      true,
      'fallback-wait',
      [],
      `apiserver metrics unreadable: assumed adopted after the ${wait} fallback wait since the key_id was observed (not proven)`,
    );
  }
  return {
    ...verdict(
      false,
      'none',
      pending,
      `apiserver metrics unreadable: waiting ${Math.ceil(remaining / 1000)}s more of the ${wait} fallback wait`,
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
