// Which apiservers are live, from their identity Leases in kube-system (docs/kms-facts.md §4).
// An apiserver renews its identity Lease every 10 s but declares a leaseDurationSeconds of 3600,
// so trusting the declared duration would keep a dead apiserver "live" for an hour: the gate
// would wait on it (or, on readers that skip unreachable ones, prove nothing). Freshness is
// judged on renewTime instead.

import { apiserverIdHash } from './convergence.ts';

/**
 * How recently an identity Lease must have been renewed for its apiserver to count as live:
 * four and a half of the apiservers' 10 s renew intervals, so a renewal or two delayed by a busy
 * apiserver (or a few seconds of clock skew between it and rekey) does not drop a live one,
 * while a dead one stops counting within a minute.
 */
export const IDENTITY_LEASE_FRESHNESS_MS = 45_000;

/** The fields of an identity Lease that decide liveness. */
export interface IdentityLease {
  /** The apiserver's identity (`apiserver-<hash>`): `apiserver_id_hash` derives from it. */
  name: string;
  /** RFC 3339 (MicroTime) or a Date, as the API client returns it. */
  renewTime?: string | Date | undefined;
  leaseDurationSeconds?: number | undefined;
}

/**
 * The `apiserver_id_hash` of every apiserver whose Lease was renewed within the freshness window
 * (or within its own leaseDurationSeconds, when that is shorter). A Lease without a renewTime,
 * with an unreadable one, or without a name proves nothing and is left out.
 */
export function liveApiserverIds(
  leases: readonly IdentityLease[],
  now: Date,
  freshnessMs = IDENTITY_LEASE_FRESHNESS_MS,
): string[] {
  const ids = new Set<string>();
  for (const l of leases) {
    if (!l.name || l.renewTime === undefined) continue;
    const renewed = new Date(l.renewTime).getTime();
    if (Number.isNaN(renewed)) continue;
    const declared = (l.leaseDurationSeconds ?? Number.POSITIVE_INFINITY) * 1000;
    if (now.getTime() - renewed < Math.min(freshnessMs, declared)) ids.add(apiserverIdHash(l.name));
  }
  return [...ids];
}
