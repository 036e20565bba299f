// Which of rekey's event types are public (documented for outside consumers: outgoing webhooks)
// and which are internal continuations between rekey's own functions (a Broker Trigger back to
// the reconcile function). An outside receiver gets only the public ones: internal events carry no
// news for it, and its availability must never be on the path of rekey's own control flow.
import type { RekeyEventType } from '../../ports/event-sink.ts';

// a record, so that a new type in the vocabulary does not compile until it is classified here
const AUDIENCE: Record<RekeyEventType, 'public' | 'internal'> = {
  'revision.created': 'public',
  'migration.completed': 'public',
  'migration.degraded': 'public',
  'verification.completed': 'public',
  'key.danger': 'public',
  // a continuation: the migration has work now, run the next step
  'migration.slice': 'internal',
  // a trigger function asking the reconcile function for a step
  'step.requested': 'internal',
};

/** The types outgoing webhooks carry. */
export const PUBLIC_EVENT_TYPES: readonly RekeyEventType[] = (
  Object.keys(AUDIENCE) as RekeyEventType[]
).filter((t) => AUDIENCE[t] === 'public');

/** True for a type outside consumers may receive. */
export function isPublicEventType(type: RekeyEventType): boolean {
  return AUDIENCE[type] === 'public';
}
