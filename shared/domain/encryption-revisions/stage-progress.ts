// Stage 3's progress, kept on the switch's `write` revision after every page so that a run (a
// controller tick, a command interrupted) resumes on the page where the last one stopped: a
// checkpoint per resource (continue token and counts, ../checkpoint.ts, the same as a key_id
// revision keeps) and the objects the apiserver refused for good, by name (never data).
import { type ResourceCheckpoint, startCheckpoint } from '../checkpoint.ts';
import { MAX_RECORDED_FAILURES } from '../migration-counts.ts';

export interface StageProgress {
  /** One per resource started, sorted by resource. */
  checkpoints: ResourceCheckpoint[];
  /** `<resource> <namespace>/<name>` of each object refused for good (at most 100 kept). */
  failed: string[];
}

export const emptyStageProgress = (): StageProgress => ({ checkpoints: [], failed: [] });

/** Where the rewrite of `resource` goes on from: its checkpoint, or the start of its listing. */
export function resumePoint(
  progress: StageProgress | undefined,
  resource: string,
): ResourceCheckpoint {
  return progress?.checkpoints.find((c) => c.resource === resource) ?? startCheckpoint(resource);
}

/** The progress after a page of `checkpoint.resource`: its checkpoint replaced, failures added. */
export function advanceStageProgress(
  progress: StageProgress,
  checkpoint: ResourceCheckpoint,
  failed: readonly string[],
): StageProgress {
  const checkpoints = [
    ...progress.checkpoints.filter((c) => c.resource !== checkpoint.resource),
    checkpoint,
  ].sort((a, b) => a.resource.localeCompare(b.resource));
  const names = [...new Set([...progress.failed, ...failed])].slice(0, MAX_RECORDED_FAILURES);
  return { checkpoints, failed: names };
}
