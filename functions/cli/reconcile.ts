// `rekey reconcile [--until-complete]`: one bounded step (observe, converge, migrate a slice,
// verify), or steps until the newest revision is Completed or Degraded for good, with live
// progress on a terminal and one line per step otherwise.
import { SingleBar } from 'cli-progress';
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import { EXIT, type Format, printJson } from './output.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function describe(o: StepOutcome): string {
  if (o.kind === 'busy')
    return `busy: another runner (${o.heldBy}) works on provider ${o.provider}`;
  if (o.kind === 'no-key-id') return o.reason;
  const c = o.counts;
  const what =
    'reason' in o.step
      ? `: ${o.step.reason}`
      : 'note' in o.step && o.step.note
        ? `: ${o.step.note}`
        : '';
  return `${o.revision} ${o.phase} (${o.step.kind}${what}) listed=${c.listed} re-encrypted=${c.reencrypted} unchanged=${c.unchanged} conflicts=${c.conflicts} gone=${c.gone} failed=${c.failed}`;
}

function exitCode(o: StepOutcome): number {
  if (o.kind !== 'step') return EXIT.notOk;
  if (o.phase === 'Degraded') return EXIT.notOk;
  if (o.step.kind === 'complete' && !o.step.verified) return EXIT.notOk; // done but not proven
  return EXIT.ok;
}

export async function reconcileCommand(
  deps: ReconcileDeps,
  config: ReconcileConfig,
  {
    format,
    untilComplete,
    pollMs = 5000,
    maxWaitMs = 30 * 60_000,
  }: { format: Format; untilComplete: boolean; pollMs?: number; maxWaitMs?: number },
): Promise<number> {
  const tty = process.stdout.isTTY && format === 'text';
  const bar = tty
    ? new SingleBar({
        format:
          '{phase} |{bar}| {value}/{total} listed, {reencrypted} re-encrypted, {failed} failed',
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
      const payload = { phase: r.phase, reencrypted: c.reencrypted, failed: c.failed };
      // the total is unknown while paging: it grows by a page ahead of what is done
      if (!started) {
        bar.start(c.listed + (config.pageSize ?? 500), c.listed, payload);
        started = true;
      } else bar.setTotal(c.listed + (config.pageSize ?? 500));
      bar.update(c.listed, payload);
    },
  };
  const began = Date.now();
  const steps: StepOutcome[] = [];
  try {
    for (let n = 0; ; n++) {
      // --force asks once; later steps continue the forced revision it created
      const o = await reconcileStep(withProgress, n === 0 ? config : { ...config, force: false });
      steps.push(o);
      if (!bar && format === 'text') process.stdout.write(`${describe(o)}\n`);
      const more = o.kind === 'busy' || o.kind === 'no-key-id' || o.more;
      if (!untilComplete || !more) break;
      if (Date.now() - began > maxWaitMs) break;
      const waiting = o.kind !== 'step' || o.step.kind !== 'migrate';
      if (waiting) await sleep(pollMs);
    }
  } finally {
    if (started) bar?.stop();
  }
  const last = steps.at(-1) as StepOutcome;
  if (bar) process.stdout.write(`${describe(last)}\n`);
  if (format === 'json') printJson(untilComplete ? { steps: steps.length, last } : last);
  return exitCode(last);
}
