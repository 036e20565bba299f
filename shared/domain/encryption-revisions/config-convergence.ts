// Whether a stage of a switch has converged, exactly: every live apiserver reports the hash of
// the file its own node agent wrote for that stage (files may differ per node, e.g. the KMS
// socket path). An apiserver whose automatic reload failed since the stage was written stops the
// rollout (Degraded, naming it); one that reports an older hash, or nothing yet, is waited for.

export interface ApiserverConfigState {
  /** `apiserver_id_hash`. */
  id: string;
  /** Its node (`kubernetes.io/hostname` of its identity Lease), when known. */
  node?: string | undefined;
  /** The hash it reports as applied; undefined when its metrics had none. */
  applied?: string | undefined;
  /** Reload failures it has counted (automatic_reloads_total{status="failure"}). */
  reloadFailures: number;
}

export interface ConfigConvergence {
  state: 'converged' | 'waiting' | 'degraded';
  /** Apiservers not yet on their expected hash, as `node (id)` or id. */
  waitingOn: string[];
  /** Apiservers that cannot converge: a failed reload, or no file written for their node. */
  failed: string[];
  reason?: string;
}

const who = (a: ApiserverConfigState) => (a.node ? `${a.node} (${a.id})` : a.id);

/**
 * @param live every live apiserver, with what it reports.
 * @param expectedFor the hash its node's agent wrote for this stage (undefined: none written).
 * @param failuresAtStart each apiserver's reload failures when the stage was written.
 */
export function assessConfigConvergence(
  live: readonly ApiserverConfigState[],
  expectedFor: (a: ApiserverConfigState) => string | undefined,
  failuresAtStart: Readonly<Record<string, number>> = {},
): ConfigConvergence {
  const waitingOn: string[] = [];
  const failed: string[] = [];
  const reasons: string[] = [];
  for (const a of live) {
    const expected = expectedFor(a);
    if (expected === undefined) {
      failed.push(who(a));
      reasons.push(`no configuration was written for ${who(a)}`);
    } else if (a.applied === expected) {
      // converged, whatever it failed before
    } else if (a.reloadFailures > (failuresAtStart[a.id] ?? 0)) {
      failed.push(who(a));
      reasons.push(`${who(a)} failed to reload the configuration`);
    } else {
      waitingOn.push(who(a));
    }
  }
  if (live.length === 0) {
    return { state: 'waiting', waitingOn, failed, reason: 'no live apiserver seen' };
  }
  if (failed.length > 0) {
    return { state: 'degraded', waitingOn, failed, reason: reasons.join('; ') };
  }
  return waitingOn.length > 0
    ? { state: 'waiting', waitingOn, failed, reason: `waiting for ${waitingOn.join(', ')}` }
    : { state: 'converged', waitingOn, failed };
}
