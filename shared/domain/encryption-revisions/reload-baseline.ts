// Reload failures judged across runs: when a stage starts rolling out, each live apiserver's
// count of failed automatic reloads (apiserver_encryption_config_controller_automatic_reloads_total
// {status="failure"}) is recorded with the stage's revision as its baseline. A later count above
// the baseline, from an apiserver that still does not report its node's hash, means that apiserver
// failed to load the stage (./config-convergence.ts judges it Degraded); failures from before the
// stage are not counted, and one followed by a successful reload (the hash applied) is no failure.
import type { ApiserverConfigState } from './config-convergence.ts';

/** Failed reloads counted per apiserver (`apiserver_id_hash`) when the stage began. */
export type ReloadBaseline = Record<string, number>;

/**
 * The baseline to judge with now: the recorded one, plus the count of each live apiserver it did
 * not know (one that started since: nothing it failed before counts), and lowered where a count
 * went down (the apiserver restarted: its counter began again at 0). `changed`: store it again.
 */
export function extendBaseline(
  recorded: Readonly<ReloadBaseline> | undefined,
  live: readonly Pick<ApiserverConfigState, 'id' | 'reloadFailures'>[],
): { baseline: ReloadBaseline; changed: boolean } {
  const baseline: ReloadBaseline = { ...recorded };
  let changed = recorded === undefined;
  for (const a of live) {
    const before = baseline[a.id];
    if (before === undefined || a.reloadFailures < before) {
      baseline[a.id] = a.reloadFailures;
      changed = true;
    }
  }
  return { baseline, changed };
}

/** Whether `a` failed a reload since the baseline (judged only while it is not on its hash). */
export function reloadFailedSince(
  a: Pick<ApiserverConfigState, 'id' | 'reloadFailures'>,
  baseline: Readonly<ReloadBaseline>,
): boolean {
  return a.reloadFailures > (baseline[a.id] ?? a.reloadFailures);
}
