// kms-event: what a cloud KMS event means for our provider. Every event is a hint: a rotation is
// assessed (hidden or not) and triggers a fresh observation and reconcile step; a danger to the
// key is recorded and raised; anything about another key is recorded as unrelated.

import type { TriggeredStep } from '../../shared/app/hand-off.ts';
import type { NoteResult } from '../../shared/core/note-kms-rotation.ts';
import { sameKey } from '../../shared/domain/events/key-match.ts';
import { type KmsTrigger, rotationOf } from '../../shared/domain/events/kms-trigger.ts';
import type { KmsRotation } from '../../shared/domain/kms-rotation.ts';
import type { KeyDangerNote } from '../../shared/domain/revision.ts';

export interface KmsEventDeps {
  provider: string;
  /** The cloud key behind the provider (REKEY_KMS_KEY); unset = every key counts as ours. */
  kmsKey?: string;
  note(rotation: KmsRotation): Promise<NoteResult>;
  danger(note: KeyDangerNote): Promise<{ revision?: string }>;
  step(): Promise<TriggeredStep>;
}

export type KmsEventResult =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'unrelated'; reason: string }
  | {
      outcome: 'rotation';
      verdict?: string;
      explanation?: string;
      reason?: string;
      step: TriggeredStep;
    }
  | { outcome: 'danger'; revision?: string; step: TriggeredStep }
  | { outcome: 'reobserved'; step: TriggeredStep };

export async function handleKmsTrigger(deps: KmsEventDeps, t: KmsTrigger): Promise<KmsEventResult> {
  if (t.kind === 'unrelated') return { outcome: 'ignored', reason: t.reason };
  if (deps.kmsKey !== undefined && !sameKey(t.cloud, deps.kmsKey, t.key)) {
    return {
      outcome: 'unrelated',
      reason: `event for ${t.cloud} key ${t.key}, but provider "${deps.provider}" uses ${deps.kmsKey}: nothing to do`,
    };
  }
  if (t.kind === 'rotated') {
    const noted = await deps.note(rotationOf(t));
    const step = await deps.step();
    return {
      outcome: 'rotation',
      ...(noted.assessment
        ? { verdict: noted.assessment.kind, explanation: noted.assessment.explanation }
        : {}),
      ...(noted.recorded ? {} : { reason: noted.reason }),
      step,
    };
  }
  if (t.kind === 'danger') {
    const recorded = await deps.danger({ key: t.key, what: t.what, at: t.at, via: t.via });
    return { outcome: 'danger', ...recorded, step: await deps.step() };
  }
  return { outcome: 'reobserved', step: await deps.step() };
}
