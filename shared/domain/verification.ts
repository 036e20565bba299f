// The result of proving from etcd which key protects the objects in scope (docs/architecture.md,
// "The proof"). Offenders are object names only: never a value, never a key.
import type { ResourceProof } from './proof.ts';

/** What one etcd scan found for a revision's key_id. */
export interface VerificationResult {
  /** True when nothing is left under an older key_id and the scan was not vacuous. */
  clean: boolean;
  /** Names of objects still under another key (`<resource>/<namespace>/<name>`), possibly capped. */
  offenders: string[];
  /** How many offenders there were in total, when `offenders` was capped. */
  offenderCount?: number;
  /** How many objects the scan read. */
  scanned?: number;
  /** ISO 8601 time of the scan. */
  checkedAt: string;
  /** Per resource in scope: scanned, under the current key, older key_ids, other providers, plaintext. */
  resources?: ResourceProof[];
  /** Values outside the scope still under an older key_id of the provider. */
  strays?: number;
  /** Why the scan proves nothing (an empty prefix, fewer values than the API lists): not clean. */
  problems?: string[];
}

/** The most offender names a result keeps (annotations are limited to 256 KiB in total). */
export const MAX_OFFENDER_NAMES = 50;

/** Builds a result from every offender found, keeping at most `max` names and the total count. */
export function verificationResult(
  offenders: readonly string[],
  {
    checkedAt,
    scanned,
    max = MAX_OFFENDER_NAMES,
  }: { checkedAt: string; scanned?: number; max?: number },
): VerificationResult {
  const result: VerificationResult = {
    clean: offenders.length === 0,
    offenders: offenders.slice(0, max),
    offenderCount: offenders.length,
    checkedAt,
  };
  if (scanned !== undefined) result.scanned = scanned;
  return result;
}
