// `rekey reconcile [--until-complete]`: one bounded step (observe, converge, migrate a slice,
// verify), or steps until the newest revision is Completed or Degraded with nothing that can
// change by itself, with live progress on a terminal and one line per step otherwise. An
// operator's run re-patches a Degraded revision's refused objects at once, whatever their backoff
// (docs/architecture.md R13): it is how "fix the cause, then `rekey migrate` again" works. Exit
// codes: functions/cli/output.ts.
import { SingleBar } from 'cli-progress';
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import { EXIT, type ExitCode, type Format, printJson, verdict } from './output.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describe(o: StepOutcome): string {
  if (o.kind === 'busy')
    return `busy: another runner (${o.heldBy}) works on provider ${o.provider}`;
  if (o.kind === 'no-key-id' || o.kind === 'no-provider') return o.reason;
  const c = o.counts;
  const what =
    'reason' in o.step
      ? `: ${o.step.reason}`
      : 'note' in o.step && o.step.note
        ? `: ${o.step.note}`
        : '';
  const retried =
    o.step.kind === 'degraded' && o.step.retrying
      ? '; rekey re-patches them on later steps, with backoff'
      : '';
  return `${o.revision} ${o.phase} (${o.step.kind}${what}${retried}) listed=${c.listed} re-encrypted=${c.reencrypted} unchanged=${c.unchanged} already-current=${c.alreadyCurrent} conflicts=${c.conflicts} gone=${c.gone} failed=${c.failed}`;
}

/**
 * The exit code of the last step: 0 only for a verified completion (or, for a single step, a step
 * that did its work without trouble); a wait that outlasted --timeout is 3, never 0. A Degraded
 * revision that can still change by itself (`more`: a plugin or etcd coming back, a brownout
 * ending, an offender a retry may move) is such a wait; one that needs someone to act (a refusal
 * by admission or RBAC, a scope problem) is 1 at once, naming the objects.
 */
export function exitCode(
  o: StepOutcome,
  { timedOut, untilComplete }: { timedOut: boolean; untilComplete: boolean },
): ExitCode {
  if (o.kind === 'step' && o.phase === 'Degraded') {
    return timedOut && o.more ? EXIT.timeout : EXIT.notOk;
  }
  if (o.kind === 'step' && o.phase === 'Completed') return o.verified ? EXIT.ok : EXIT.unverifiable;
  if (timedOut) return EXIT.timeout;
  if (untilComplete) return EXIT.notOk; // stopped without finishing for another reason
  return o.kind === 'step' ? EXIT.ok : EXIT.notOk;
}

export async function reconcileCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  {
    format,
    untilComplete,
    pollMs = 5000,
    timeoutMs = 30 * 60_000,
  }: { format: Format; untilComplete: boolean; pollMs?: number; timeoutMs?: number },
): Promise<number> {
  const tty = process.stdout.isTTY && format === 'text';
  const bar = tty
    ? new SingleBar({
        format:
          '{phase} |{bar}| {value}/{total} listed, {reencrypted} re-encrypted, {alreadyCurrent} already current, {failed} failed',
        hideCursor: true,
      })
    : undefined;
  let started = false;
  const withProgress: ReconcileDeps = {
    ...deps,
    onProgress: (r) => {
      deps.onProgress?.(r);
      if (!bar) return;
      const c = summariseProgress(r.progress).counts;
      const payload = {
        phase: r.phase,
        reencrypted: c.reencrypted,
        alreadyCurrent: c.alreadyCurrent,
        failed: c.failed,
      };
      // the total is unknown while paging: it grows by a page ahead of what is done
      if (!started) {
        bar.start(c.listed + (config.pageSize ?? 500), c.listed, payload);
        started = true;
      } else bar.setTotal(c.listed + (config.pageSize ?? 500));
      bar.update(c.listed, payload);
    },
  };
  const began = Date.now();
  let timedOut = false;
  const steps: StepOutcome[] = [];
  try {
    for (let n = 0; ; n++) {
      // --force asks once; later steps continue the forced revision it created. Refused and
      // offending objects are re-patched at once on the first step, then by their backoff.
      const o = await reconcileStep(
        withProgress,
        n === 0 ? { ...config, retryNow: true } : { ...config, force: false, retryNow: false },
      );
      steps.push(o);
      if (!bar && format === 'text') process.stdout.write(`${describe(o)}\n`);
      const more =
        o.kind === 'busy' || o.kind === 'no-key-id' || (o.kind === 'no-provider' ? o.wait : o.more);
      if (!untilComplete || !more) break;
      const left = timeoutMs - (Date.now() - began);
      if (left <= 0) {
        timedOut = true;
        break;
      }
      const waiting = o.kind !== 'step' || o.step.kind !== 'migrate';
      if (waiting) await sleep(Math.min(pollMs, left));
    }
  } finally {
    if (started) bar?.stop();
  }
  const last = steps.at(-1) as StepOutcome;
  const code = exitCode(last, { timedOut, untilComplete });
  if (bar) process.stdout.write(`${describe(last)}\n`);
  if (format === 'text' && last.kind === 'step') {
    for (const note of last.scope.notes) process.stdout.write(`scope: ${note}\n`);
  }
  if (format === 'text' && timedOut) {
    process.stdout.write(
      `not finished within ${Math.round(timeoutMs / 1000)}s: the migration goes on with the next trigger or run\n`,
    );
  }
  if (format === 'json') {
    printJson(
      untilComplete
        ? { steps: steps.length, last, verdict: verdict(code) }
        : { ...last, verdict: verdict(code) },
    );
  }
  return code;
}
