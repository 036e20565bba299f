// Which observed key_id a step acts on. During a rollout, plugins on different nodes report
// different key_ids; only a key_id no revision has recorded yet is new. Acting on "the newest
// report" instead would flip between the old and new key and create a revision each time.
import type { Observation } from '../domain/observation.ts';
import type { Revision } from '../domain/revision.ts';

export function chooseObservation(
  observations: readonly Observation[],
  revisions: readonly Revision[],
): Observation | undefined {
  const known = new Set(revisions.map((r) => r.keyId));
  const fresh = observations
    .filter((o) => !known.has(o.keyId))
    .sort((a, b) => Date.parse(a.observedAt) - Date.parse(b.observedAt));
  return fresh[0];
}
