// Whether the revision the nodes should run has converged: every live apiserver reports the hash
// of the file its own node's agent wrote for it. A node agent that could not write it, or an
// apiserver whose reload failed since the stage began (its count of failed reloads above the
// baseline recorded with the revision, ../domain/encryption-revisions/reload-baseline.ts), is
// Degraded (named); a node whose agent has not written it yet, or an apiserver not on it yet, is
// waited for.
import {
  type ApiserverConfigState,
  assessConfigConvergence,
  type ConfigConvergence,
} from '../domain/encryption-revisions/config-convergence.ts';
import {
  extendBaseline,
  type ReloadBaseline,
} from '../domain/encryption-revisions/reload-baseline.ts';
import type { SwitchDeps } from './switch-deps.ts';

export async function assessRevision(
  deps: Pick<SwitchDeps, 'nodes' | 'apiservers'>,
  revision: number,
  recorded: Readonly<ReloadBaseline> | undefined,
): Promise<
  ConfigConvergence & {
    live: ApiserverConfigState[];
    /** The baseline judged with; `baselineChanged`: it is to be stored with the revision. */
    baseline: ReloadBaseline;
    baselineChanged: boolean;
  }
> {
  const [writes, snap] = await Promise.all([deps.nodes.list(), deps.apiservers.read()]);
  const byNode = new Map(writes.map((w) => [w.node, w]));
  const { baseline, changed: baselineChanged } = extendBaseline(recorded, snap.live);
  const extra = { live: snap.live, baseline, baselineChanged };
  const failed: string[] = [];
  const waiting: string[] = [];
  for (const a of snap.live) {
    const w = a.node ? byNode.get(a.node) : undefined;
    const who = a.node ?? a.id;
    if (!w) waiting.push(`${who}: no node agent in write mode reports for this node`);
    else if (w.revision !== revision) waiting.push(`${who}: its agent has not written it yet`);
    else if (w.error) failed.push(`${who}: its node agent cannot apply it (${w.error})`);
  }
  if (failed.length > 0) {
    return {
      state: 'degraded',
      waitingOn: [],
      failed,
      reason: `revision ${revision}: ${failed.join('; ')}`,
      ...extra,
    };
  }
  if (waiting.length > 0 || snap.live.length === 0) {
    const why = waiting.length > 0 ? waiting.join('; ') : (snap.unreadableReason ?? 'no apiserver');
    return { state: 'waiting', waitingOn: waiting, failed: [], reason: why, ...extra };
  }
  const verdict = assessConfigConvergence(
    snap.live,
    (a) => (a.node ? byNode.get(a.node)?.hash : undefined),
    baseline,
  );
  return {
    ...verdict,
    ...(verdict.reason ? { reason: `revision ${revision}: ${verdict.reason}` } : {}),
    ...extra,
  };
}
