// `npm run bench`: rekey's throughput and memory on the real sandbox. Figures as JSON lines plus a
// short table. Sizes: BENCH_SECRETS (throughput, default 10000), BENCH_RSS_SIZES (default
// 10000,50000), BENCH_RUNS (rotations per size for medians, default 3).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { coreApi, kubeConfig } from '../support/kube.ts';
import { rekeySettings } from '../support/rekey-fixture.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';

const RUNNER = fileURLToPath(new URL('./runner.ts', import.meta.url));
const THROUGHPUT_N = Number(process.env.BENCH_SECRETS ?? 10_000);
const RSS_SIZES = (process.env.BENCH_RSS_SIZES ?? '10000,50000').split(',').map(Number);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
/**
 * V8 heap settings of the runner: by default those the deployed functions run with (infra sets
 * NODE_OPTIONS to the same), since Node's defaults let garbage pile up to several hundred MB before
 * collecting it. BENCH_NODE_FLAGS='' measures Node's defaults.
 */
const NODE_FLAGS = (
  process.env.BENCH_NODE_FLAGS ?? '--max-semi-space-size=4 --max-old-space-size=160'
)
  .split(' ')
  .filter(Boolean);

interface RunnerResult {
  counts: { listed: number; reencrypted: number; failed: number };
  migrateMs: number;
  maxRssKb: number;
}

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
const figures: { figure: string; value: number; unit: string; n: number; runs: number }[] = [];
const emit = (figure: string, value: number, unit: string, n: number, runs: number) => {
  const line = {
    figure,
    value: Math.round(value * 10) / 10,
    unit,
    n,
    runs,
    machine: { cpus: cpus().length, memGiB: Math.round(totalmem() / 2 ** 30) },
  };
  figures.push(line);
  process.stdout.write(`${JSON.stringify(line)}\n`);
};

async function measure(n: number): Promise<RunnerResult[]> {
  const sb = await startSandbox();
  try {
    const perNs = 500;
    process.stderr.write(`bench: seeding ${n} secrets\n`);
    await seedMany(coreApi(sb.env), {
      namespaces: Math.ceil(n / perNs),
      perNamespace: perNs,
      prefix: 'bench',
      concurrency: 32,
    });
    const kubeconfig = join(sb.dir, 'kubeconfig-rekey');
    writeFileSync(kubeconfig, kubeConfig(sb.env, { user: 'rekey' }).exportConfig());
    const env = {
      ...process.env,
      ...rekeySettings(sb.env, { REKEY_BUDGET_SECONDS: '600' }),
      KUBECONFIG: kubeconfig,
    };
    const run = (keyId: string) =>
      JSON.parse(
        execFileSync(process.execPath, [...NODE_FLAGS, RUNNER], {
          env: { ...env, BENCH_KEY_ID: keyId },
          encoding: 'utf8',
        }),
      ) as RunnerResult;
    run('local-1'); // baseline: record K1 (nothing stale)
    const results: RunnerResult[] = [];
    for (let i = 0; i < RUNS; i++) {
      const k = await rotate({ dir: sb.dir });
      await waitForKeyId(k, { dir: sb.dir });
      await new Promise((r) => setTimeout(r, 2500)); // the key-id reporter's interval
      const r = run(k);
      process.stderr.write(
        `bench: n=${n} run ${i + 1}: ${r.counts.reencrypted} re-encrypted in ${r.migrateMs} ms, peak RSS ${r.maxRssKb} KiB\n`,
      );
      results.push(r);
    }
    return results;
  } finally {
    await sb.stop();
  }
}

const rows: string[][] = [['figure', 'N', 'median', 'unit']];
for (const n of [...new Set([THROUGHPUT_N, ...RSS_SIZES])].sort((a, b) => a - b)) {
  const results = await measure(n);
  if (n === THROUGHPUT_N) {
    const rate = median(results.map((r) => (r.counts.reencrypted / r.migrateMs) * 1000));
    emit('rekey_reencrypted_per_second', rate, 'objects/s', n, results.length);
    rows.push(['re-encrypted per second', String(n), rate.toFixed(0), 'objects/s']);
  }
  if (RSS_SIZES.includes(n)) {
    const rss = median(results.map((r) => r.maxRssKb / 1024));
    emit('rekey_runner_peak_rss', rss, 'MiB', n, results.length);
    rows.push(['runner peak RSS', String(n), rss.toFixed(0), 'MiB']);
  }
}
process.stdout.write(
  `\n${rows.map((r) => r.map((c, i) => c.padEnd(i === 0 ? 26 : 10)).join('')).join('\n')}\n`,
);
