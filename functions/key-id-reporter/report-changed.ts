// Whether a new reading says something the stored report does not: the report is written only
// then, because every write of a report ConfigMap is a reconcile step for rekey. The time of the
// reading alone is no change (the liveness Lease carries it).
import { isDeepStrictEqual } from 'node:util';
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';

function withoutTime({ observedAt: _, ...rest }: KeyIdReport): Omit<KeyIdReport, 'observedAt'> {
  return rest;
}

/** Whether `next` differs from `stored` in anything but `observedAt`. */
export function reportChanged(stored: KeyIdReport, next: KeyIdReport): boolean {
  return !isDeepStrictEqual(withoutTime(stored), withoutTime(next));
}
