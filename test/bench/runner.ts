// The measured runner: rekey's reconcile steps in a process of their own (so its peak RSS is
// rekey's alone), configured like the CLI from REKEY_* variables. Waits out convergence, then
// times the migration and verification of the revision of BENCH_KEY_ID; prints one JSON line.
import { buildDeps } from '../../shared/adapters/build-deps.ts';
import { loadConfig } from '../../shared/config/config.ts';
import { reconcileStep } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';

const target = keyIdHash(process.env.BENCH_KEY_ID ?? '');
const built = buildDeps(loadConfig(process.env));
const startedAt = Date.now();
let migrateStartedAt: number | undefined;
let firstRewriteAt: number | undefined;
const deps = {
  ...built.deps,
  onProgress: () => {
    firstRewriteAt ??= Date.now();
  },
};
try {
  for (;;) {
    const t = Date.now();
    const o = await reconcileStep(deps, built.reconcile);
    if (o.kind !== 'step' || o.keyIdHash !== target) {
      await new Promise((r) => setTimeout(r, 500));
      continue;
    }
    if (o.step.kind === 'wait-convergence') {
      await new Promise((r) => setTimeout(r, 1000));
      continue;
    }
    migrateStartedAt ??= t;
    if (!o.more) {
      const doneAt = Date.now();
      process.stdout.write(
        `${JSON.stringify({
          phase: o.phase,
          step: o.step.kind,
          counts: o.counts,
          migrateMs: doneAt - migrateStartedAt,
          toFirstCheckpointMs: (firstRewriteAt ?? doneAt) - startedAt,
          totalMs: doneAt - startedAt,
          maxRssKb: process.resourceUsage().maxRSS,
        })}\n`,
      );
      break;
    }
  }
} finally {
  built.close();
}
