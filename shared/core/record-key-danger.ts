// The KMS says the key configured behind a provider (the one every object of it is wrapped under,
// whatever its material) is being deleted, destroyed, disabled or expiring: an outage in waiting.
// Record it on the newest revision (a condition every status shows) and raise a loud
// `dev.rekey.key.danger`, once per (key, what, time) however often the event is delivered. When the
// KMS says a danger is over, it is marked cleared there: kept for history, raising nothing.
import {
  activeDangers,
  type DangerClearance,
  dangersIn,
  planClearance,
  planDanger,
} from '../domain/key-danger.ts';
import { type KeyDangerNote, newestOf } from '../domain/revision.ts';
import type { ReconcileDeps } from './deps.ts';
import { openSession } from './revision-session.ts';

type DangerDeps = Pick<ReconcileDeps, 'store' | 'clock' | 'log' | 'events'>;

export interface DangerRecorded {
  revision?: string;
  /** Already noted: nothing was written or raised. */
  duplicate?: true;
  /** Noted, but already over (a clearance of it arrived first): nothing was raised. */
  cleared?: true;
}

export async function recordKeyDanger(
  deps: DangerDeps,
  provider: string,
  note: KeyDangerNote,
): Promise<DangerRecorded> {
  const stored = await deps.store.list(provider);
  const newest = newestOf(stored, (s) => s.revision.number);
  const seen = stored.flatMap((s) => dangersIn(s.revision.keyDanger));
  let active = true;
  if (newest) {
    // a redelivery writes nothing; a concurrent writer makes save fail (retried by the sender)
    const plan = planDanger(newest.revision.keyDanger, note, seen);
    if (plan.action === 'duplicate') return { revision: newest.revision.name, duplicate: true };
    active = plan.active;
    await openSession(deps.store, newest, deps.clock).save((r) => ({ ...r, keyDanger: plan.note }));
  }
  const { key, what, at, via } = note;
  deps.log?.('KMS key in danger', { provider, what, via, ...(active ? {} : { cleared: true }) });
  if (!active) return { ...(newest ? { revision: newest.revision.name } : {}), cleared: true };
  await deps.events?.emit('key.danger', {
    provider,
    ...(newest ? { revision: newest.revision.name, keyIdHash: newest.revision.keyIdHash } : {}),
    what,
    key,
    at,
  });
  return newest ? { revision: newest.revision.name } : {};
}

export interface DangerCleared {
  revision?: string;
  /** The dangers that are over now (none: nothing was noted that this ends). */
  cleared: { what: string; at: string }[];
  /** Dangers still raised on the revision. */
  stillActive: number;
}

/** Marks the dangers `clearance` ends as cleared on the newest revision. */
export async function clearKeyDanger(
  deps: DangerDeps,
  provider: string,
  clearance: DangerClearance,
): Promise<DangerCleared> {
  const stored = await deps.store.list(provider);
  const newest = newestOf(stored, (s) => s.revision.number);
  if (!newest) return { cleared: [], stillActive: 0 };
  const plan = planClearance(newest.revision.keyDanger, clearance);
  if (!plan) {
    return {
      revision: newest.revision.name,
      cleared: [],
      stillActive: activeDangers(newest.revision.keyDanger).length,
    };
  }
  await openSession(deps.store, newest, deps.clock).save((r) => ({ ...r, keyDanger: plan.note }));
  deps.log?.('KMS key danger over', {
    provider,
    by: clearance.by,
    cleared: plan.cleared.map((d) => d.what),
  });
  return {
    revision: newest.revision.name,
    cleared: plan.cleared.map(({ what, at }) => ({ what, at })),
    stillActive: activeDangers(plan.note).length,
  };
}
