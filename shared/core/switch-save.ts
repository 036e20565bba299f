// How a switch writes what it decided: every change to a stored revision is made at the version it
// was read at, so two runners (the CLI and the EncryptionSwitch tick, say) cannot both act on the
// same state; the second is told to run again and then decides from what the first stored. A stage
// that starts rolling out records each live apiserver's failed reloads so far, so only failures
// after it started count against it (../domain/encryption-revisions/reload-baseline.ts).
import {
  extendBaseline,
  type ReloadBaseline,
} from '../domain/encryption-revisions/reload-baseline.ts';
import type { ConfigRevisionRecord } from '../domain/encryption-revisions/switch-state.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import type { SwitchDeps } from './switch-deps.ts';

/** The record with `change` applied; a key changed to undefined is removed. */
export function changed(
  s: StoredConfigRevision,
  change: Partial<ConfigRevisionRecord>,
): ConfigRevisionRecord {
  const next: ConfigRevisionRecord = { ...s.record, ...change };
  for (const k of Object.keys(change) as (keyof ConfigRevisionRecord)[]) {
    if (change[k] === undefined) delete next[k];
  }
  return next;
}

/** Stores the change at the version read; answers the revision as now stored. */
export async function save(
  deps: SwitchDeps,
  s: StoredConfigRevision,
  change: Partial<ConfigRevisionRecord>,
): Promise<StoredConfigRevision> {
  const next = changed(s, change);
  const version = await deps.revisions.update(next, s.version);
  if (version === false) {
    throw new Error(`revision ${s.record.number} changed meanwhile (another runner?): run again`);
  }
  return { ...s, record: next, version };
}

/** Each live apiserver's failed reloads now: the baseline of a stage that starts rolling out. */
export async function baselineNow(deps: SwitchDeps): Promise<ReloadBaseline> {
  return extendBaseline(undefined, (await deps.apiservers.read()).live).baseline;
}
