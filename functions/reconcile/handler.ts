// reconcile: PingSource ticks, rekey's own continuation events and the trigger functions' step
// requests each run one bounded step. While a migration has work right now, the step asks for a
// continuation event (the Broker redelivers it to us at once); waits for adoption are left to the
// next tick, so nothing spins (shared/core/step-and-continue.ts). PingSource ticks also drive the
// declared EncryptionSwitch one tick further.

import type { DriveSwitchResult } from '../../shared/core/drive-encryption-switch.ts';
import {
  type StepAndContinueDeps,
  type SteppedAndContinued,
  stepAndContinue,
} from '../../shared/core/step-and-continue.ts';
import { rekeyType } from '../../shared/ports/event-sink.ts';

export const CONTINUATION_TYPE = rekeyType('migration.slice');
/** A trigger function's request for a step (REKEY_STEP_MODE=delegate, shared/app/hand-off.ts). */
export const STEP_REQUEST_TYPE = rekeyType('step.requested');
export const ACCEPTED_TYPES = [
  'dev.knative.sources.ping',
  CONTINUATION_TYPE,
  STEP_REQUEST_TYPE,
] as const;

export interface ReconcileFnDeps extends StepAndContinueDeps {
  provider: string;
  /** One tick of the declared EncryptionSwitch (shared/core/drive-encryption-switch.ts). */
  encryptionSwitch?: (() => Promise<DriveSwitchResult>) | undefined;
}

export type ReconcileResult = SteppedAndContinued & {
  /** On PingSource ticks: the EncryptionSwitch's stage, or why it was not driven. */
  encryptionSwitch?: string;
};

const PING_TYPE = 'dev.knative.sources.ping';

export function accepts(type: string): boolean {
  return (ACCEPTED_TYPES as readonly string[]).includes(type);
}

/**
 * The step; on a PingSource tick also the EncryptionSwitch's tick (the tick carries changes of
 * the object: nothing watches it), even when the step failed. A failed switch tick is reported on
 * the object and in the answer, and never fails the key step.
 */
export async function handleReconcile(
  deps: ReconcileFnDeps,
  type?: string,
): Promise<ReconcileResult> {
  const ticked = type === PING_TYPE && deps.encryptionSwitch ? deps.encryptionSwitch : undefined;
  let stepped: SteppedAndContinued;
  try {
    stepped = await stepAndContinue(deps);
  } catch (err) {
    if (ticked) await switchTick(ticked);
    throw err;
  }
  if (!ticked) return stepped;
  return { ...stepped, encryptionSwitch: await switchTick(ticked) };
}

async function switchTick(tick: () => Promise<DriveSwitchResult>): Promise<string> {
  try {
    const r = await tick();
    return r.kind === 'ticked' ? r.status.stage : r.kind === 'none' ? 'none declared' : 'completed';
  } catch (err) {
    return `tick failed: ${(err as Error).message}`;
  }
}
