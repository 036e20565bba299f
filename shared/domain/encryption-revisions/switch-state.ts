// The state of configuration revisions as the cluster stores them, and what a switch does next.
// Each stored revision has a rollout state: `planned` (rendered for a later stage, not yet given to
// the nodes), `rolling-out` (the nodes should write it; the apiservers are converging on it),
// `applied` (every live apiserver reported its node's hash of it), `rolled-back` or `abandoned`
// (an operator went back; a planned stage that will not run). The revision the nodes should run is
// the highest-numbered one rolling out or applied: making a revision `rolling-out` is the one act
// that starts a stage, and a rollback marks the previous revision rolling-out before it retires the
// current one, so the nodes always have exactly one revision to run. Stage 3 (the migration) is
// recorded on the `write` revision: `migrated`, then `verified` once etcd showed nothing in scope
// under the old write provider; until `migrated`, its page-by-page progress is kept there too
// (./stage-progress.ts). A revision rolling out keeps the reload failures each apiserver had
// counted when it started (./reload-baseline.ts), so a failed reload is judged across runs.

import type { ReloadBaseline } from './reload-baseline.ts';
import type { RevisionStage } from './revision.ts';
import type { StageProgress } from './stage-progress.ts';

export type RolloutState = 'planned' | 'rolling-out' | 'applied' | 'rolled-back' | 'abandoned';

export const ROLLOUT_STATES: readonly RolloutState[] = [
  'planned',
  'rolling-out',
  'applied',
  'rolled-back',
  'abandoned',
];

/** What a switch is, recorded on each of its revisions. */
export interface SwitchRecord {
  /** The number of the switch's first revision: the switch's identity. */
  id: number;
  /** `identity`, `aescbc`, `secretbox` or `kms:<name>`. */
  target: string;
  /** The write provider before and after, e.g. `identity` -> `kms:sandbox-kms`. */
  from: string;
  to: string;
  resources: string[];
}

/** A revision as stored: its number, stage, rollout state and (never printed) text. */
export interface ConfigRevisionRecord {
  number: number;
  stage: RevisionStage;
  /** The hash of the stored text (each node's file may differ: its own KMS endpoints). */
  hash: string;
  state: RolloutState;
  /** Absent on revision 1 (the file as found). */
  switch?: SwitchRecord | undefined;
  /** `write` revisions only: stage 3's progress. */
  migration?: 'migrated' | 'verified' | undefined;
  /** `write` revisions only: stage 3's rewrite so far, saved after every page (until migrated). */
  progress?: StageProgress | undefined;
  /** While rolling out: each apiserver's failed reloads when the stage began (./reload-baseline.ts). */
  reloadBaseline?: ReloadBaseline | undefined;
  /** Why the rollout stopped at this revision (Degraded), naming the node or apiserver. */
  degraded?: string | undefined;
}

/** The revision every node should run now: the highest rolling out or applied. */
export function desiredRevision<T extends Pick<ConfigRevisionRecord, 'number' | 'state'>>(
  revisions: readonly T[],
): T | undefined {
  let best: T | undefined;
  for (const r of revisions) {
    if (r.state !== 'rolling-out' && r.state !== 'applied') continue;
    if (!best || r.number > best.number) best = r;
  }
  return best;
}

/** The number a new revision gets: one more than any stored, whatever its state. */
export function nextRevisionNumber(revisions: readonly Pick<ConfigRevisionRecord, 'number'>[]) {
  return revisions.reduce((n, r) => Math.max(n, r.number), 0) + 1;
}

/** What the switch command does next, from the stored revisions alone. */
export type SwitchAction =
  /** Nothing stored yet: the node agents have not recorded the file as found. */
  | { kind: 'no-revisions' }
  /** No switch in progress: a new one may be planned from `desired`. */
  | { kind: 'idle'; desired: number }
  /** The desired revision is rolling out: wait for every apiserver to report it. */
  | { kind: 'converge'; revision: number }
  /** Stage 3 of the switch whose write revision is `revision`. */
  | { kind: 'migrate'; revision: number }
  /** The next planned stage may start. */
  | { kind: 'promote'; revision: number }
  /** The switch's last stage is applied. */
  | { kind: 'complete'; revision: number };

/**
 * The next action, given every stored revision. A `write` revision applied but not yet `verified`
 * migrates before anything later is promoted: the old provider may go only when nothing needs it.
 */
export function nextSwitchAction(revisions: readonly ConfigRevisionRecord[]): SwitchAction {
  const desired = desiredRevision(revisions);
  if (!desired) return { kind: 'no-revisions' };
  if (desired.state === 'rolling-out') return { kind: 'converge', revision: desired.number };
  if (desired.stage === 'write' && desired.migration !== 'verified') {
    return { kind: 'migrate', revision: desired.number };
  }
  const id = desired.switch?.id;
  const planned = revisions
    .filter((r) => r.state === 'planned' && id !== undefined && r.switch?.id === id)
    .filter((r) => r.number > desired.number)
    .sort((a, b) => a.number - b.number)[0];
  if (planned) return { kind: 'promote', revision: planned.number };
  if (desired.switch && desired.stage === 'remove-old') {
    return { kind: 'complete', revision: desired.number };
  }
  return { kind: 'idle', desired: desired.number };
}

/**
 * A rollback from the desired revision: the revision to make desired again (the highest applied
 * or rolled-out one below it), or why there is none.
 */
export function rollbackTarget(
  revisions: readonly ConfigRevisionRecord[],
): { from: ConfigRevisionRecord; to: ConfigRevisionRecord } | { refused: string } {
  const from = desiredRevision(revisions);
  if (!from) return { refused: 'no configuration revision is stored yet' };
  const to = revisions
    .filter((r) => r.number < from.number && r.state === 'applied')
    .sort((a, b) => b.number - a.number)[0];
  if (!to) return { refused: `revision ${from.number} has no applied revision before it` };
  return { from, to };
}
