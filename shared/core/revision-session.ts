// One revision held for the length of a step: its latest stored version, saved with optimistic
// concurrency, so a write never clobbers a change someone else made in between.
import type { Revision } from '../domain/revision.ts';
import type { Clock } from '../ports/clock.ts';
import type { RevisionStore, StoredRevision } from '../ports/revision-store.ts';

export class RevisionConflictError extends Error {
  override name = 'RevisionConflictError';
}

export interface RevisionSession {
  readonly revision: Revision;
  /** Saves `change(revision)`; throws RevisionConflictError if the record moved meanwhile. */
  save(change: (r: Revision) => Revision): Promise<Revision>;
}

export function openSession(
  store: RevisionStore,
  stored: StoredRevision,
  clock: Clock,
): RevisionSession {
  let current = stored;
  return {
    get revision() {
      return current.revision;
    },
    async save(change) {
      const next = { ...change(current.revision), updatedAt: clock.now().toISOString() };
      const r = await store.update(next, current.version);
      if (r.result !== 'updated') {
        throw new RevisionConflictError(`${next.name} changed while this step was working on it`);
      }
      current = r.stored;
      return current.revision;
    },
  };
}
