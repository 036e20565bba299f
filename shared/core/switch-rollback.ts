// `rollbackSwitch`: makes the previous applied revision the one the nodes run again, the way out of
// a stage that cannot converge (a node that cannot apply it, an apiserver whose reload failed). The
// previous revision is marked rolling out before the current one is marked rolled back, so there is
// always a revision for the node agents to write, and the stages of the same switch still planned
// are abandoned, so no later run promotes them. It then waits for the nodes as a switch stage does
// (./switch-converge.ts).
import { desiredRevision, rollbackTarget } from '../domain/encryption-revisions/switch-state.ts';
import { SwitchTargetError } from '../domain/encryption-revisions/target.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import { assessRevision } from './switch-converge.ts';
import type { SwitchDeps } from './switch-deps.ts';
import type { SwitchOutcome, SwitchRunOptions } from './switch-run.ts';
import { baselineNow, save } from './switch-save.ts';

/** Makes the previous applied revision the one the nodes run, and waits for it (as a switch). */
export async function rollbackSwitch(
  deps: SwitchDeps,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const stored = await deps.revisions.list();
  const target = rollbackTarget(stored.map((s) => s.record));
  if ('refused' in target) throw new SwitchTargetError(target.refused);
  const get = (n: number) => stored.find((s) => s.record.number === n) as StoredConfigRevision;
  // the previous revision becomes desired before the current one retires: always one to run
  await save(deps, get(target.to.number), {
    state: 'rolling-out',
    degraded: undefined,
    reloadBaseline: await baselineNow(deps),
  });
  await save(deps, get(target.from.number), { state: 'rolled-back' });
  for (const s of stored) {
    if (s.record.state === 'planned' && s.record.switch?.id === target.from.switch?.id) {
      await save(deps, s, { state: 'abandoned' });
    }
  }
  options.onNote?.(
    `revision ${target.from.number} rolled back: revision ${target.to.number} rolling out`,
  );
  return waitForConvergence(deps, options);
}

/** Waits until the revision the nodes run is applied everywhere (no further stage). */
async function waitForConvergence(
  deps: SwitchDeps,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  for (;;) {
    const stored = await deps.revisions.list();
    const desired = desiredRevision(stored.map((s) => s.record));
    const s = stored.find((x) => x.record.number === desired?.number);
    if (!s) return { state: 'progressing', message: 'no configuration revision is running' };
    if (s.record.state === 'applied') {
      return { state: 'completed', message: `revision ${s.record.number} runs on every apiserver` };
    }
    const verdict = await assessRevision(deps, s.record.number, s.record.reloadBaseline);
    if (verdict.state === 'converged') {
      await save(deps, s, { state: 'applied', degraded: undefined, reloadBaseline: undefined });
      continue;
    }
    if (verdict.baselineChanged) await save(deps, s, { reloadBaseline: verdict.baseline });
    if (verdict.state === 'degraded') return { state: 'degraded', message: verdict.reason ?? '' };
    if (!options.untilComplete) return { state: 'progressing', message: verdict.reason ?? '' };
    if (deps.clock.now().getTime() > options.deadline) {
      return { state: 'timeout', message: verdict.reason ?? '' };
    }
    await sleep(options.pollMs ?? 5000);
  }
}
