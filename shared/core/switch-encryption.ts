// `switchEncryption`: changes the provider that protects some resources, in stages the apiservers
// can always agree on (docs/architecture.md, "Changing the providers"): (1) the target added as a
// read provider, (2) made the write provider, (3) everything in scope rewritten and proven from
// etcd to be off the old write provider, (4) the old write provider removed. Stages 1, 2 and 4 are
// configuration revisions the node agents write; each must converge (every live apiserver reports
// the hash its own node's agent wrote) before the next one starts. A node that cannot apply a
// revision, or an apiserver whose reload fails, stops the switch there (Degraded, named). Every
// decision is taken from the stored revisions, so running the command again continues where the
// last run stopped: a stage's reload baseline and stage 3's page checkpoints are stored with the
// revisions too. This file is the stage machine: starting a switch is ./switch-start.ts, stage 3
// ./switch-migrate.ts, when a run is Completed ./switch-complete.ts, and the way back
// ./switch-rollback.ts (`rollbackSwitch`, answered from here as well).
import { desiredRevision, nextSwitchAction } from '../domain/encryption-revisions/switch-state.ts';
import { formatSwitchTarget, SwitchTargetError } from '../domain/encryption-revisions/target.ts';
import type { StoredConfigRevision } from '../ports/config-revisions.ts';
import { type SwitchRunSoFar, whenComplete, whenIdle } from './switch-complete.ts';
import { assessRevision } from './switch-converge.ts';
import type { SwitchDeps } from './switch-deps.ts';
import { migrateStage } from './switch-migrate.ts';
import type { SwitchOutcome, SwitchRequest, SwitchRunOptions } from './switch-run.ts';
import { baselineNow, save } from './switch-save.ts';

export { rollbackSwitch } from './switch-rollback.ts';
export type { SwitchOutcome, SwitchRequest, SwitchRunOptions } from './switch-run.ts';

/** The active switch's target, if one is in progress. */
function activeSwitch(stored: StoredConfigRevision[]): string | undefined {
  const records = stored.map((s) => s.record);
  const action = nextSwitchAction(records);
  if (action.kind === 'idle' || action.kind === 'no-revisions' || action.kind === 'complete') {
    return undefined;
  }
  return desiredRevision(records)?.switch?.target;
}

export async function switchEncryption(
  deps: SwitchDeps,
  request: SwitchRequest,
  options: SwitchRunOptions,
): Promise<SwitchOutcome> {
  const note = options.onNote ?? (() => {});
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const pollMs = options.pollMs ?? 5000;
  const run: SwitchRunSoFar = { started: false, reproved: false };
  let lastWait = '';
  for (;;) {
    if (deps.clock.now().getTime() > options.deadline) {
      return { state: 'timeout', message: lastWait || 'the switch did not finish in time' };
    }
    const stored = await deps.revisions.list();
    const active = activeSwitch(stored);
    if (request.target && active && active !== formatSwitchTarget(request.target)) {
      throw new SwitchTargetError(
        `a switch to ${active} is in progress: continue it (--to ${active}) or roll it back first`,
      );
    }
    const action = nextSwitchAction(stored.map((s) => s.record));
    const get = (n: number) => stored.find((s) => s.record.number === n) as StoredConfigRevision;
    switch (action.kind) {
      case 'no-revisions': {
        lastWait = 'no configuration revision stored yet: is a node agent running in write mode?';
        if (!options.untilComplete) return { state: 'progressing', message: lastWait };
        await sleep(pollMs);
        continue;
      }
      case 'idle': {
        const done = await whenIdle(deps, stored, action.desired, request, run, note);
        if (done) return done;
        continue;
      }
      case 'converge': {
        const s = get(action.revision);
        const verdict = await assessRevision(deps, action.revision, s.record.reloadBaseline);
        const baseline = verdict.baselineChanged ? { reloadBaseline: verdict.baseline } : {};
        if (verdict.state === 'converged') {
          await save(deps, s, { state: 'applied', degraded: undefined, reloadBaseline: undefined });
          note(`revision ${action.revision} (${s.record.stage}) applied by every apiserver`);
          continue;
        }
        if (verdict.state === 'degraded') {
          const reason = verdict.reason ?? 'degraded';
          if (s.record.degraded !== reason || verdict.baselineChanged) {
            await save(deps, s, { degraded: reason, ...baseline });
          }
          return {
            state: 'degraded',
            message: `${reason}; nothing further is rolled out (fix it and run again, or roll back)`,
          };
        }
        lastWait = verdict.reason ?? `waiting for revision ${action.revision}`;
        if (s.record.degraded || verdict.baselineChanged) {
          await save(deps, s, { degraded: undefined, ...baseline });
        }
        if (!options.untilComplete) return { state: 'progressing', message: lastWait };
        await sleep(pollMs);
        continue;
      }
      case 'migrate': {
        const done = await migrateStage(deps, get(action.revision), options.deadline, note);
        if (done) return done;
        continue;
      }
      case 'promote': {
        const s = get(action.revision);
        await save(deps, s, { state: 'rolling-out', reloadBaseline: await baselineNow(deps) });
        note(`revision ${action.revision} (${s.record.stage}) rolling out`);
        continue;
      }
      case 'complete': {
        const done = await whenComplete(deps, stored, action.revision, request, run, note);
        if (done) return done;
        continue;
      }
    }
  }
}
