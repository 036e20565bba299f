// Runs reconcile steps as a caller would (a ticker, continuation events) until one settles.

import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import type { RekeyUnderTest } from './rekey-fixture.ts';

/**
 * Steps until one has no more work on the revision of `keyId` (if given): the key-id reporter
 * needs its interval to see a rotation, like the event that would trigger rekey in a cluster.
 */
export async function untilSettled(
  rekey: Pick<RekeyUnderTest, 'deps' | 'config'>,
  limitMs: number,
  {
    keyId,
    pollMs = 2000,
    onStep,
  }: { keyId?: string; pollMs?: number; onStep?: (o: StepOutcome) => void } = {},
): Promise<StepOutcome[]> {
  const steps: StepOutcome[] = [];
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const o = await reconcileStep(rekey.deps, rekey.config);
    steps.push(o);
    onStep?.(o);
    const onTarget = keyId === undefined || (o.kind === 'step' && o.keyIdHash === keyIdHash(keyId));
    if (o.kind === 'step' && !o.more && onTarget) return steps;
    if (o.kind !== 'step' || o.step.kind !== 'migrate')
      await new Promise((r) => setTimeout(r, pollMs));
  }
  throw new Error(
    `rekey did not settle in ${limitMs / 1000} s; last: ${JSON.stringify(steps.at(-1))}`,
  );
}

/** Waits until rekey's observer (the key-id reports) sees `keyId`, as a rotation event would find it. */
export async function waitForObservation(
  rekey: Pick<RekeyUnderTest, 'deps' | 'config'>,
  keyId: string,
  limitMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (Date.now() < deadline) {
    const seen = await rekey.deps.observer.observe(rekey.config.provider);
    if (seen.observations.some((o) => o.keyId === keyId)) return;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`the key-id reporter did not report ${keyId} within ${limitMs / 1000} s`);
}
