// cluster-event: Knative ApiServerSource (Reference mode) on key-id reports and revision records.
// A report change means a plugin may show a new key_id: run a step. rekey writes its revisions
// itself, so their updates are its own echo and start no work (no loop); a deleted revision does.

import type { TriggeredStep } from '../../shared/app/hand-off.ts';
import type { ClusterTrigger } from '../../shared/domain/events/apiserver-source.ts';

export type ClusterEventResult =
  | { outcome: 'ignored'; reason: string }
  | { outcome: 'stepped'; step: TriggeredStep };

export async function handleClusterChange(
  deps: { namespace: string; step(): Promise<TriggeredStep> },
  change: ClusterTrigger,
): Promise<ClusterEventResult> {
  if (change.namespace !== deps.namespace) {
    return {
      outcome: 'ignored',
      reason: `object in ${change.namespace}, not rekey's namespace ${deps.namespace}`,
    };
  }
  if (change.kind === 'report-changed') return { outcome: 'stepped', step: await deps.step() };
  if (change.kind === 'revision-changed' && change.op === 'delete') {
    return { outcome: 'stepped', step: await deps.step() };
  }
  if (change.kind === 'revision-changed') {
    return {
      outcome: 'ignored',
      reason: `revision ${change.name} ${change.op}: rekey's own write`,
    };
  }
  return { outcome: 'ignored', reason: `not a key-id report or revision: ${change.name}` };
}
