// The rotation state machine (docs/architecture.md "Phases", R3, R7, R8, R13): a pure function from
// what was observed to the one next step. Handlers do the I/O around it; the phase they store is
// derived from the step, so a Degraded revision recovers on its own once its cause is gone, and
// objects that kept it Degraded are re-patched on later steps until they no longer do.

import type { ConvergenceVerdict } from './convergence.ts';
import { listNames } from './format.ts';
import type { MigrationSummary } from './migration-progress.ts';
import { outstanding } from './retry-plan.ts';
import type { Revision } from './revision.ts';
import type { VerificationResult } from './verification.ts';

/** Every phase, in the order a healthy rotation passes through them. */
export const PHASES = [
  'Observed',
  'Converging',
  'Migrating',
  'Verifying',
  'Completed',
  'Degraded',
] as const;

/** Where a revision stands; stored for humans and metrics, recomputed every step. */
export type Phase = (typeof PHASES)[number];

/** The KMS plugin's health as the key-id reporter saw it; `unknown` (no reporter) does not block. */
export type PluginHealth =
  | { status: 'healthy' }
  | { status: 'unhealthy'; reason: string }
  | { status: 'unknown' };

/** Whether etcd verification is set up and what the last scan found. */
export interface VerificationInput {
  configured: boolean;
  result?: VerificationResult;
  /** Set when verification is configured but etcd could not be scanned just now. */
  unavailable?: string;
}

/** What the migration's progress says, and what a step learnt while migrating. */
export interface MigrationInput extends MigrationSummary {
  /** Some resource has a checkpoint: a Completed revision with one not done has gained scope. */
  started?: boolean;
  /**
   * Set when a list was refused for good (403 without RBAC for it, 404 for a resource no longer
   * served): the reason, naming the resource. Only a change of RBAC or configuration helps.
   */
  blocked?: string;
  /**
   * Set when the apiserver kept answering 429, 5xx or nothing to a list or a patch past its
   * attempts: the slice stopped at its checkpoint and no object was failed for it.
   */
  unavailable?: string;
}

/** Whether a pass re-patching refused and offending objects may run now (its backoff is over). */
export interface RetryInput {
  due: boolean;
}

/** Everything {@link decideNextStep} decides on. */
export interface StepInput {
  revision: Pick<Revision, 'name' | 'phase' | 'forced'>;
  convergence: Pick<ConvergenceVerdict, 'converged' | 'reason' | 'pending'>;
  migration: MigrationInput;
  verification: VerificationInput;
  plugin: PluginHealth;
  /** Absent: no pass is due. */
  retry?: RetryInput;
  /**
   * The KMS reported new key material while the plugin's key_id stayed the same (the revision's
   * note says `hidden`, docs/architecture.md R9).
   */
  hiddenRotation?: true;
  /**
   * When convergence was found lost after the migration had started (an apiserver back on an older
   * key_id: a restart with a lagging plugin, a new control-plane node). Objects written through it
   * meanwhile may sit in pages already done, so the next pass covers every resource again.
   */
  regressedAt?: string;
}

/**
 * The one thing to do next. `degraded.recoverable`: the cause can go away with nobody acting (a
 * plugin back, etcd back, a brownout over, an offender re-patched), so a caller waiting for the
 * end keeps waiting; otherwise someone has to act (allow the patch, grant RBAC, fix the scope).
 * `degraded.retrying`: the objects behind it are re-patched on later steps (`retry`), so once
 * someone acted the revision completes by itself.
 */
export type Step =
  | { kind: 'wait-convergence'; reason: string; pending: string[]; regressed?: true }
  | { kind: 'migrate'; again?: { regressedAt: string } }
  | { kind: 'retry' }
  | { kind: 'verify' }
  | { kind: 'complete'; verified: boolean; note?: string }
  | { kind: 'degraded'; reason: string; recoverable: boolean; retrying?: true; regressed?: true }
  | { kind: 'nothing-to-do'; reason: string };

/** Said when a migration completes without etcd access: the result is not proven. */
export const UNVERIFIED_NOTE =
  'unverified: no etcd access is configured, so nothing proves that no object is left under an older key_id';

/**
 * The next step for a revision:
 * 1. Completed: nothing to do (with the hidden-rotation explanation when that is why we were called),
 *    unless a resource joined the scope of its finished migration: that re-opens it (2-5).
 * 2. Not every live apiserver has adopted the key_id: wait (rewriting now would be useless). Once
 *    the migration has started, that is a regression (`regressed`: the step records when); once
 *    every apiserver is back, the migration passes again over every resource from the start
 *    (`migrate` with `again`) before anything may complete, even when the first pass was done:
 *    objects written through the regressed apiserver may sit in pages already rewritten.
 * 3. Migration not done: migrate. Per-object failures do not stop it; they are judged at the end.
 *    A list refused for good stops it Degraded, naming the resource: only RBAC or configuration
 *    helps, so it is not retried until the next trigger.
 * 4. Done, with etcd verification: verify (again, if the last scan predates the end of the
 *    migration); complete only when the scan is clean, else Degraded naming the offenders.
 *    Failed objects then only add a note: the scan proves they are not under an older key.
 *    etcd configured but not scannable just now: a recoverable Degraded (the next trigger retries).
 * 5. Done, without etcd: Degraded if objects failed (nothing proves them), else complete, unverified.
 * 6. Degraded by objects (refused, or found under another key): they are re-patched (`retry`) once
 *    the revision's backoff allows, then verified again; a cause that went away completes it.
 *    Refusals need someone to act, so they are not recoverable; offenders alone are.
 * An apiserver that kept failing (429, 5xx, no answer) is a recoverable Degraded: the migration
 * resumes from its checkpoint on a later step and no object fails for it.
 * An unhealthy plugin turns 2, 3 and 6 into a recoverable Degraded: the migration waits for it.
 */
export function decideNextStep(input: StepInput): Step {
  const { revision, hiddenRotation, plugin, migration } = input;
  if (revision.phase === 'Completed' && !(migration.started && !migration.done)) {
    const hidden = hiddenRotation && !revision.forced;
    return {
      kind: 'nothing-to-do',
      reason: hidden
        ? `the KMS rotated key material but the plugin's key_id is unchanged: no object became stale, ${revision.name} stays Completed`
        : `${revision.name} is already Completed`,
    };
  }
  const step = progressStep(input);
  if (
    plugin.status === 'unhealthy' &&
    (step.kind === 'wait-convergence' || step.kind === 'migrate' || step.kind === 'retry')
  ) {
    return {
      kind: 'degraded',
      reason: `KMS plugin unhealthy (${plugin.reason}): the migration waits until it recovers`,
      recoverable: true,
      // a regression found while the plugin is down is still recorded
      ...(step.kind === 'wait-convergence' && step.regressed ? { regressed: true as const } : {}),
    };
  }
  return step;
}

function progressStep(input: StepInput): Step {
  const { convergence, migration, verification, retry, regressedAt } = input;
  if (!convergence.converged) {
    return {
      kind: 'wait-convergence',
      reason: convergence.reason,
      pending: convergence.pending,
      ...(migration.started ? { regressed: true as const } : {}),
    };
  }
  // before anything else, brownout included: the pass starts over from the top either way
  if (regressedAt !== undefined) return { kind: 'migrate', again: { regressedAt } };
  if (migration.unavailable) {
    return {
      kind: 'degraded',
      reason: `the apiserver is not answering (${migration.unavailable}): the migration resumes from its checkpoint on a later step`,
      recoverable: true,
    };
  }
  if (!migration.done) {
    if (migration.blocked)
      return { kind: 'degraded', reason: migration.blocked, recoverable: false };
    return { kind: 'migrate' };
  }
  const failures = failureText(migration);
  const refused = failedCount(migration);
  if (!verification.configured) {
    if (failures) {
      if (retry?.due) return { kind: 'retry' };
      return {
        kind: 'degraded',
        reason: `${failures}; without etcd access nothing proves they are under the current key`,
        recoverable: false,
        retrying: true,
      };
    }
    return { kind: 'complete', verified: false, note: UNVERIFIED_NOTE };
  }
  const result = verification.result;
  if (!result || predates(result.checkedAt, migration.finishedAt)) {
    if (verification.unavailable) {
      return {
        kind: 'degraded',
        reason: `etcd verification is configured but unavailable: ${verification.unavailable}`,
        recoverable: true,
      };
    }
    return { kind: 'verify' };
  }
  if (!result.clean) {
    const count = Math.max(result.offenderCount ?? 0, result.offenders.length);
    const problems = result.problems ?? [];
    if (count === 0 && problems.length > 0) {
      return {
        kind: 'degraded',
        reason: `etcd verification proves nothing: ${problems.join('; ')}`,
        recoverable: false,
      };
    }
    const left = outstanding(refused, result);
    const retrying = left.refused > 0 || left.offending > 0;
    if (retrying && retry?.due) return { kind: 'retry' };
    return {
      kind: 'degraded',
      reason:
        `etcd verification found ${count} object(s) still under an older key_id: ` +
        `${listNames(result.offenders)}${failures ? `; ${failures}` : ''}`,
      recoverable: left.refused === 0 && left.strays === 0 && left.offending > 0,
      ...(retrying ? { retrying: true as const } : {}),
    };
  }
  if (failures) {
    return {
      kind: 'complete',
      verified: true,
      note: `${failures}; the etcd scan found none of them under an older key_id`,
    };
  }
  return { kind: 'complete', verified: true };
}

/** The phase a step puts the revision in; `nothing-to-do` and `retry` leave it where it is. */
export function phaseFor(step: Step, current: Phase): Phase {
  switch (step.kind) {
    case 'wait-convergence':
      return 'Converging';
    case 'migrate':
      return 'Migrating';
    // a re-patch of a few objects leaves the phase as it stands: the pass ends Completed or
    // Degraded on the same step, and a Degraded revision flapping once per pass helps no reader
    case 'retry':
      return current;
    case 'verify':
      return 'Verifying';
    case 'complete':
      return 'Completed';
    case 'degraded':
      return 'Degraded';
    case 'nothing-to-do':
      return current;
  }
}

function failedCount({ failed, counts }: MigrationSummary): number {
  return Math.max(counts.failed, failed.length);
}

function failureText(migration: MigrationSummary): string | undefined {
  const { failed } = migration;
  const count = failedCount(migration);
  if (count === 0) return undefined;
  const names = failed.map((f) => `${f.namespace ? `${f.namespace}/` : ''}${f.name} (${f.reason})`);
  const head = `${count} object(s) could not be rewritten`;
  return names.length > 0 ? `${head}: ${listNames(names, { max: 3 })}` : head;
}

function predates(checkedAt: string, finishedAt: string | undefined): boolean {
  return finishedAt !== undefined && Date.parse(checkedAt) < Date.parse(finishedAt);
}
