// Whether a new reading says something the stored report does not: the report is written only
// then, because every write of a report ConfigMap is a reconcile step for rekey. The time of the
// reading alone is no change (the liveness Lease carries it), and neither is an error whose text
// differs only in its numbers (a plugin that stays down says "deadline exceeded after 4.98s", then
// "after 5.01s", tick after tick): the error that matters is the same, so the report stays.
import { isDeepStrictEqual } from 'node:util';
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';

/** An error text with every number replaced, so that two readings of one failure compare equal. */
export function errorShape(text: string): string {
  return text.replace(/\d+(?:[.:]\d+)*/g, '#');
}

function compared({ observedAt: _, ...rest }: KeyIdReport): Omit<KeyIdReport, 'observedAt'> {
  return rest.error === undefined ? rest : { ...rest, error: errorShape(rest.error) };
}

/** Whether `next` differs from `stored` in anything but `observedAt` and an error's numbers. */
export function reportChanged(stored: KeyIdReport, next: KeyIdReport): boolean {
  return !isDeepStrictEqual(compared(stored), compared(next));
}
