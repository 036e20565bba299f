// When a switch run may answer Completed. The stored revisions say a switch is over (idle: nothing
// planned or rolling out; complete: the last stage of a switch applied), but not whether it was the
// one asked for: a run with a target answers Completed only once a switch of its own has finished,
// or the one that finished had the same target and covered every resource asked for. Otherwise it
// starts a switch (./switch-start.ts) for what is left. An in-place migration (a `write` revision
// over the same text) is proven again once it is idle, over every write key, not only the one it
// migrated from. Nothing is recorded here but the revisions a new switch stores.
import { unswitchedResources } from '../domain/encryption-revisions/switch-coverage.ts';
import { formatSwitchTarget, SwitchTargetError } from '../domain/encryption-revisions/target.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import type { SwitchDeps } from './switch-deps.ts';
import type { SwitchOutcome, SwitchRequest } from './switch-run.ts';
import { startSwitch, writeProviderOf } from './switch-start.ts';

/** What this run has done so far: it decides whether a switch that is over is the one asked for. */
export interface SwitchRunSoFar {
  /** This run started a switch (or took the in-place proof). */
  started: boolean;
  /** This run took the in-place proof again after its migration (once). */
  reproved: boolean;
}

const revisionOf = (stored: StoredConfigRevision[], n: number) =>
  stored.find((s) => s.record.number === n) as StoredConfigRevision;

/**
 * Nothing in progress, revision `desired` running: Completed when there is no target or this run's
 * switch is done; otherwise a switch is started. Undefined: decide again from the stored revisions.
 */
export async function whenIdle(
  deps: SwitchDeps,
  stored: StoredConfigRevision[],
  desired: number,
  request: SwitchRequest,
  run: SwitchRunSoFar,
  note: (line: string) => void,
): Promise<SwitchOutcome | undefined> {
  if (!request.target) return { state: 'completed', message: 'no switch in progress' };
  // a `write` revision left idle migrated resources already written with the target: the
  // proof is taken again (once) over every write key, not only the one it migrated from
  const inPlace = revisionOf(stored, desired).record.stage === 'write';
  if (run.started && (!inPlace || run.reproved)) {
    return {
      state: 'completed',
      message: `revision ${desired} runs on every apiserver`,
    };
  }
  if (run.started) run.reproved = true;
  run.started = true;
  return startSwitch(
    deps,
    stored,
    { ...request, target: request.target, migrateInPlace: !run.reproved },
    note,
  );
}

/**
 * The switch of revision `revision` finished: Completed when it is the one asked for and covered
 * every resource asked for; otherwise a switch is started for the rest (or for the new target).
 * Undefined: decide again from the stored revisions.
 */
export async function whenComplete(
  deps: SwitchDeps,
  stored: StoredConfigRevision[],
  revision: number,
  request: SwitchRequest,
  run: SwitchRunSoFar,
  note: (line: string) => void,
): Promise<SwitchOutcome | undefined> {
  const s = revisionOf(stored, revision);
  const sw = s.record.switch;
  const completed: SwitchOutcome = {
    state: 'completed',
    message: `${sw?.resources.join(', ')} switched from ${sw?.from} to ${sw?.to} (revision ${revision})`,
  };
  if (!request.target) return completed;
  const wanted = formatSwitchTarget(request.target);
  if (sw?.target !== wanted) {
    if (run.started) return completed;
    run.started = true;
    return startSwitch(
      deps,
      stored,
      { ...request, target: request.target, migrateInPlace: true },
      note,
    );
  }
  // the same target: complete only for resources the finished switches covered; the others
  // are switched now (or proven already in place)
  const rest = unswitchedResources(
    stored.map((x) => x.record),
    wanted,
    request.resources ?? [],
    (r) => writeProviderOf(s.text, r),
  );
  if (rest.length === 0) return completed;
  run.started = true;
  return startSwitch(
    deps,
    stored,
    { target: request.target, resources: rest, migrateInPlace: !run.reproved },
    note,
  ).catch((err: unknown) => {
    if (!(err instanceof SwitchTargetError)) throw err;
    throw new SwitchTargetError(
      `${rest.join(', ')} not switched to ${wanted} yet (the switch of revision ${revision} covered ${sw.resources.join(', ')}): ${err.message}`,
    );
  });
}
