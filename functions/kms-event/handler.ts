// kms-event: what a cloud KMS event means for our provider. Every event is a hint: a rotation is
// assessed (hidden or not) and triggers a fresh observation and reconcile step; a danger to the
// key is recorded and raised once, and cleared when the KMS says it is over; anything about
// another key is recorded as unrelated. A delivery of several events (Azure Event Grid) records
// each, then runs one step.

import type { TriggeredStep } from '../../shared/app/hand-off.ts';
import type { NoteResult } from '../../shared/core/note-kms-rotation.ts';
import type { DangerCleared, DangerRecorded } from '../../shared/core/record-key-danger.ts';
import { sameKey } from '../../shared/domain/events/key-match.ts';
import { type KmsTrigger, rotationOf } from '../../shared/domain/events/kms-trigger.ts';
import type { DangerClearance } from '../../shared/domain/key-danger.ts';
import type { KmsRotation } from '../../shared/domain/kms-rotation.ts';
import type { KeyDangerNote } from '../../shared/domain/revision.ts';

export interface KmsEventDeps {
  provider: string;
  /** The cloud key behind the provider (REKEY_KMS_KEY); unset = every key counts as ours. */
  kmsKey?: string;
  note(rotation: KmsRotation): Promise<NoteResult>;
  danger(note: KeyDangerNote): Promise<DangerRecorded>;
  clear(clearance: DangerClearance): Promise<DangerCleared>;
  step(): Promise<TriggeredStep>;
}

/** What one event meant, before any step ran. */
export type KmsEventNoted =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'unrelated'; reason: string }
  | { outcome: 'rotation'; verdict?: string; explanation?: string; reason?: string }
  | ({ outcome: 'danger' } & DangerRecorded)
  | ({
      outcome: 'danger-cleared';
      by: string;
      leaves?: DangerRecorded & { what: string };
    } & DangerCleared)
  | { outcome: 'reobserved' };

export type KmsEventResult = KmsEventNoted & { step?: TriggeredStep };

/** Whether the noted outcome calls for a reconcile step (news about our key, not a redelivery). */
function wantsStep(n: KmsEventNoted): boolean {
  if (n.outcome === 'ignored' || n.outcome === 'unrelated') return false;
  if (n.outcome === 'danger') return !n.duplicate;
  if (n.outcome === 'danger-cleared') {
    return n.cleared.length > 0 || (n.leaves !== undefined && n.leaves.duplicate !== true);
  }
  return true;
}

/** Records what one trigger says (rotation note, danger, clearance); runs no step. */
export async function noteKmsTrigger(deps: KmsEventDeps, t: KmsTrigger): Promise<KmsEventNoted> {
  if (t.kind === 'unrelated') return { outcome: 'ignored', reason: t.reason };
  if (deps.kmsKey !== undefined && !sameKey(t.cloud, deps.kmsKey, t.key)) {
    return {
      outcome: 'unrelated',
      reason: `event for ${t.cloud} key ${t.key}, but provider "${deps.provider}" uses ${deps.kmsKey}: nothing to do`,
    };
  }
  if (t.kind === 'rotated') {
    const noted = await deps.note(rotationOf(t));
    return {
      outcome: 'rotation',
      ...(noted.assessment
        ? { verdict: noted.assessment.kind, explanation: noted.assessment.explanation }
        : {}),
      ...(noted.recorded ? {} : { reason: noted.reason }),
    };
  }
  if (t.kind === 'config-changed') return { outcome: 'reobserved' };
  const version = t.version === undefined ? {} : { version: t.version };
  if (t.kind === 'danger') {
    const recorded = await deps.danger({
      key: t.key,
      what: t.what,
      at: t.at,
      via: t.via,
      ...version,
    });
    return { outcome: 'danger', ...recorded };
  }
  const { key, clears, at, via, by } = t;
  const cleared = await deps.clear({ key, clears, at, via, by, ...version });
  if (!t.leaves) return { outcome: 'danger-cleared', by, ...cleared };
  const left = await deps.danger({ key, what: t.leaves, at, via, ...version });
  return { outcome: 'danger-cleared', by, ...cleared, leaves: { what: t.leaves, ...left } };
}

/** One event: note it, then run a step when it is news about our key. */
export async function handleKmsTrigger(deps: KmsEventDeps, t: KmsTrigger): Promise<KmsEventResult> {
  const noted = await noteKmsTrigger(deps, t);
  return wantsStep(noted) ? { ...noted, step: await deps.step() } : noted;
}

/** Several events of one delivery: each noted in order, then one step if any asks for it. */
export async function handleKmsTriggers(
  deps: KmsEventDeps,
  triggers: readonly KmsTrigger[],
): Promise<{ results: KmsEventNoted[]; step?: TriggeredStep }> {
  const results: KmsEventNoted[] = [];
  for (const t of triggers) results.push(await noteKmsTrigger(deps, t));
  return results.some(wantsStep) ? { results, step: await deps.step() } : { results };
}
