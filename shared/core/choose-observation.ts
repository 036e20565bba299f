// Which observed key_id a step acts on (docs/architecture.md R2). During a rollout, plugins on
// different nodes report different key_ids; acting on "the newest report" would flip between the
// old and new key and create a revision each time, so while reports disagree only a key_id no
// revision has recorded is new, and of two such, the one first seen last (a reporter's heartbeat
// says nothing about which key came first). When every fresh, healthy report agrees on a key_id
// other than the newest revision's, that is what the cluster writes with now: it is recorded even
// if an older revision knew it (a rollback migrates back). Keys compare by their hash, so a revision
// recorded from the apiservers' metrics alone (hash only) and a report of its key_id are one key.
import { type Observation, observedKeyIdHash, seenSince } from '../domain/observation.ts';
import { newestRevision, type Revision } from '../domain/revision.ts';

/** The observation to plan a revision for; `agreed`: every report says this key_id now. */
export interface ChosenObservation {
  observation: Observation;
  agreed: boolean;
}

export function chooseObservation(
  observations: readonly Observation[],
  revisions: readonly Revision[],
): ChosenObservation | undefined {
  const byKey = mergeByKeyId(observations);
  const newest = newestRevision(revisions);
  const [only] = byKey.values();
  if (newest && only && byKey.size === 1 && observedKeyIdHash(only) !== newest.keyIdHash) {
    // reports older than the newest revision's observation say nothing about the cluster since
    const since = Date.parse(newest.observedAt);
    if (observations.every((o) => Date.parse(o.observedAt) >= since)) {
      return { observation: only, agreed: true };
    }
  }
  const known = new Set(revisions.map((r) => r.keyIdHash));
  const unseen = [...byKey.values()]
    .filter((o) => !known.has(observedKeyIdHash(o)))
    .sort((a, b) => Date.parse(seenSince(b)) - Date.parse(seenSince(a)));
  const chosen = unseen[0];
  return chosen ? { observation: chosen, agreed: false } : undefined;
}

/**
 * One observation per key_id: seen since its earliest first sighting on any node (when the key
 * appeared), as of the latest look at it.
 */
function mergeByKeyId(observations: readonly Observation[]): Map<string, Observation> {
  const merged = new Map<string, Observation>();
  for (const o of observations) {
    const key = observedKeyIdHash(o);
    const m = merged.get(key);
    if (!m) {
      merged.set(key, { ...o });
      continue;
    }
    const first = Date.parse(seenSince(o)) < Date.parse(seenSince(m)) ? seenSince(o) : seenSince(m);
    const last = Date.parse(o.observedAt) > Date.parse(m.observedAt) ? o.observedAt : m.observedAt;
    // a key_id seen in full is worth more than its hash alone
    const full = m.keyId === '' && o.keyId !== '' ? { ...o } : m;
    merged.set(key, { ...full, observedAt: last, firstSeenAt: first });
  }
  return merged;
}
