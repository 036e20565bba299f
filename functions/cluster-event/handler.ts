// cluster-event: Knative ApiServerSource (Reference mode) on key-id reports and revision records.
// A report change means a plugin may show a new key_id: run a step. rekey writes its revisions
// itself, so their updates are its own echo and start no work (no loop); a deleted revision does.
// Each kind counts only where rekey keeps it: key-id reports in rekey's namespace, revisions in
// its state namespace (the same one unless REKEY_STATE_NAMESPACE is set); anything else is ignored.

import type { TriggeredStep } from '../../shared/app/hand-off.ts';
import type { ClusterTrigger } from '../../shared/domain/events/apiserver-source.ts';

export type ClusterEventResult =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'stepped'; step: TriggeredStep };

export interface ClusterEventDeps {
  /** rekey's namespace: where the key-id reports are. */
  namespace: string;
  /** Where rekey's revision records are. */
  stateNamespace: string;
  step(): Promise<TriggeredStep>;
}

export async function handleClusterChange(
  deps: ClusterEventDeps,
  change: ClusterTrigger,
): Promise<ClusterEventResult> {
  if (change.kind === 'report-changed') {
    if (change.namespace !== deps.namespace) {
      return {
        outcome: 'ignored',
        reason: `key-id report in ${change.namespace || '(no namespace)'}, not rekey's namespace ${deps.namespace}`,
      };
    }
    return { outcome: 'stepped', step: await deps.step() };
  }
  if (change.kind === 'revision-changed') {
    if (change.namespace !== deps.stateNamespace) {
      return {
        outcome: 'ignored',
        reason: `revision in ${change.namespace || '(no namespace)'}, not rekey's state namespace ${deps.stateNamespace}`,
      };
    }
    if (change.op === 'delete') return { outcome: 'stepped', step: await deps.step() };
    return {
      outcome: 'ignored',
      reason: `revision ${change.name} ${change.op}: rekey's own write`,
    };
  }
  return { outcome: 'ignored', reason: `not a key-id report or revision: ${change.name}` };
}
