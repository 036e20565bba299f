// The result of proving from etcd which key protects the objects in scope (DESIGN rule 6).
// Offenders are object names only: never a value, never a key.

/** What one etcd scan found for a revision's key_id. */
export interface VerificationResult {
  /** True when no object in scope is stored under another key_id (or unencrypted). */
  clean: boolean;
  /** Names of objects still under another key (`<resource>/<namespace>/<name>`), possibly capped. */
  offenders: string[];
  /** How many offenders there were in total, when `offenders` was capped. */
  offenderCount?: number;
  /** How many objects the scan read. */
  scanned?: number;
  /** ISO 8601 time of the scan. */
  checkedAt: string;
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
