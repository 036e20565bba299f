// Announcing what happened to a revision (docs/architecture.md, "Events"): the revision's identity,
// the hash of its key_id and its counts, never a key_id or a secret. Best effort: a step's work is
// stored before it is announced, so an event that cannot be delivered is logged, not retried.
import { summariseProgress } from '../domain/migration-progress.ts';
import type { Revision } from '../domain/revision.ts';
import type { RevisionEventData } from '../ports/event-sink.ts';
import type { ReconcileDeps } from './deps.ts';

/** The event types that carry one revision. */
export type RevisionEventType =
  | 'revision.created'
  | 'migration.completed'
  | 'migration.degraded'
  | 'verification.completed';

export async function emitRevisionEvent(
  deps: Pick<ReconcileDeps, 'events' | 'log'>,
  type: RevisionEventType,
  r: Revision,
  reason?: string,
): Promise<void> {
  if (!deps.events) return;
  const data: RevisionEventData = {
    provider: r.provider,
    revision: r.name,
    keyIdHash: r.keyIdHash,
    counts: summariseProgress(r.progress).counts,
    ...(reason ? { reason } : {}),
  };
  try {
    await deps.events.emit(type, data);
  } catch (err) {
    deps.log?.('event not delivered', { type, error: (err as Error).message });
  }
}
