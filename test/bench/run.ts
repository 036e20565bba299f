// `npm run bench`: rekey against the manual method, the storage version migrators and the
// apiserver's own limits, on one real sandbox, in one run (then a second sandbox of two
// apiservers for what each tool leaves under the old key when started at the key change). Prints a JSON line per figure as it is measured, then a markdown table of
// every figure with its target and verdict; both also go to .sandbox/bench/latest.{md,jsonl}.
//
// Knobs (environment):
//   BENCH_SECRETS              secrets for the side-by-side figures (default 10000)
//   BENCH_RSS_SIZES            sizes for the runner's peak RSS (default 10000,50000,100000)
//   BENCH_RUNS                 runs per figure, medians reported (default 3)
//   BENCH_LARGE_N              RSS sizes at or above this run once: a 100k run takes minutes and
//                              its peak RSS varies little between runs (default 100000)
//   BENCH_CEILING_CONCURRENCY  concurrencies of the no-op ceiling sweep (default 1,4,16,64)
//   BENCH_CLIENTS              concurrent clients for the latency figures (default 4)
//   BENCH_CLIENT_PAUSE_MS      pause between a client's iterations (default 100)
//   BENCH_IDLE_SECONDS         how long the clients run alone for the idle baseline (default 20)
//   BENCH_NODE_FLAGS           V8 flags of the runner (default: the deployment's; '' = Node's)
//   BENCH_KEY_CHANGE_SECRETS   secrets of the started-at-the-key-change figures (default 1000)
//   BENCH_PHASES               which phases run (default all): comparison (the side-by-side run at
//                              BENCH_SECRETS, with kubectl, the ceiling and the migrators), sizes
//                              (rekey across a rotation at each size: rate, RSS, CPU, etcd scan,
//                              the projection to 1M), stale (rekey on a half-stale cluster),
//                              key-change (the second sandbox), transport (the client's and the
//                              apiserver's CPU per request over HTTP/1.1 and HTTP/2). Without
//                              comparison, BENCH_SECRETS is measured as one more size.
//   BENCH_PROJECT_TO           the size the projection is made for (default 1000000)
//
// The storage version migrators are built on first use (test/support/peers/build.ts; the in-tree
// one comes with the sandbox's kube-controller-manager) and cached per pin.
//
// Secrets are seeded up to each size in turn (ascending), so every size shares the sandbox; the
// side-by-side figures are measured at BENCH_SECRETS (comparison-run.ts says how), the RSS at each
// size from rekey runs across a rotation (first-rewrite.ts).
import { fileURLToPath } from 'node:url';
import { coreApi } from '../support/kube.ts';
import { ensurePeers } from '../support/peers/build.ts';
import { startSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { leftUnderOldKey } from './at-key-change.ts';
import { setUpClients } from './client-latency.ts';
import { emitComparison } from './comparison-figures.ts';
import { type ComparisonRun, comparisonRun } from './comparison-run.ts';
import { timeEtcdScan } from './etcd-scan.ts';
import { type AcrossRotation, rekeyAcrossRotation } from './first-rewrite.ts';
import { halfStaleRun } from './half-stale.ts';
import { currentKeyId } from './key-rotation.ts';
import { startKsvm } from './ksvm.ts';
import type { Peer } from './peer-migration.ts';
import { perThousand } from './proc-cpu.ts';
import { projectTo, type Sample } from './projection.ts';
import { createReport } from './report.ts';
import { runnerEnv, runRunner } from './runner-process.ts';
import { median } from './stats.ts';
import { SVM_APISERVER_ARGS, startSvm } from './svm.ts';
import { transportCosts } from './transport.ts';

const numbers = (v: string) => v.split(',').map(Number);
const THROUGHPUT_N = Number(process.env.BENCH_SECRETS ?? 10_000);
const RSS_SIZES = numbers(process.env.BENCH_RSS_SIZES ?? '10000,50000,100000');
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const LARGE_N = Number(process.env.BENCH_LARGE_N ?? 100_000);
const CEILING_LEVELS = numbers(process.env.BENCH_CEILING_CONCURRENCY ?? '1,4,16,64');
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const CLIENT_PAUSE_MS = Number(process.env.BENCH_CLIENT_PAUSE_MS ?? 100);
const IDLE_MS = Number(process.env.BENCH_IDLE_SECONDS ?? 20) * 1000;
const KEY_CHANGE_N = Number(process.env.BENCH_KEY_CHANGE_SECRETS ?? 1000);
const PHASES = new Set(
  (process.env.BENCH_PHASES ?? 'comparison,sizes,stale,key-change,transport')
    .split(',')
    .filter(Boolean),
);
const KNOWN_PHASES = ['comparison', 'sizes', 'stale', 'key-change', 'transport'];
for (const p of PHASES) {
  if (!KNOWN_PHASES.includes(p)) {
    throw new Error(`BENCH_PHASES: unknown phase ${p} (${KNOWN_PHASES.join(', ')})`);
  }
}
const PROJECT_TO = Number(process.env.BENCH_PROJECT_TO ?? 1_000_000);
const OUT_DIR = fileURLToPath(new URL('../../.sandbox/bench/', import.meta.url));
const RSS_TARGET = { op: '<=', value: 200 / 1.048576, text: '≤ 200 MB (190.7 MiB)' } as const;
const PER_NAMESPACE = 500;

const log = (line: string) => process.stderr.write(`bench: ${line}\n`);
const report = createReport();
const needPeers = PHASES.has('comparison') || PHASES.has('key-change');
const peers = needPeers ? ensurePeers({ log }) : undefined;
const sb = await startSandbox(
  PHASES.has('comparison') ? { apiserverArgs: SVM_APISERVER_ARGS } : {},
);
const started: Peer[] = [];
try {
  let migrators: { ksvm: Peer; svm: Peer } | undefined;
  if (PHASES.has('comparison') && peers) {
    log('starting kube-storage-version-migrator and kube-controller-manager');
    const ksvm = await startKsvm(sb, peers);
    started.push(ksvm);
    const svm = await startSvm(sb);
    started.push(svm);
    migrators = { ksvm, svm };
  }
  const env = runnerEnv(sb);
  const clients = await setUpClients(sb.env, {
    clients: CLIENTS,
    perClient: 5,
    pauseMs: CLIENT_PAUSE_MS,
  });
  log('baseline: rekey records the first key_id (nothing stale)');
  await runRunner(env);
  let keyId = await currentKeyId(sb);
  let seeded = 0;
  const seededRefs: { namespace: string; name: string }[] = [];
  const rss: { n: number; mib: number }[] = [];
  // the projection's inputs, one sample per size measured across a rotation
  const projection = {
    migrateMs: [] as Sample[],
    rssMib: [] as Sample[],
    etcdScanMs: [] as Sample[],
  };
  const sizes = [
    ...new Set([
      ...(PHASES.has('comparison') || PHASES.has('sizes') ? [THROUGHPUT_N] : []),
      ...(PHASES.has('sizes') ? RSS_SIZES : []),
    ]),
  ];
  for (const [step, n] of sizes.sort((a, b) => a - b).entries()) {
    if (n > seeded) {
      // new namespaces each time: seedMany names secrets by position, so it cannot top up a namespace
      const namespaces = Math.ceil((n - seeded) / PER_NAMESPACE);
      const perNamespace = Math.ceil((n - seeded) / namespaces);
      log(`seeding ${namespaces * perNamespace} secrets (to ${n})`);
      const added = await seedMany(coreApi(sb.env), {
        namespaces,
        perNamespace,
        prefix: `bench-${step}`,
        concurrency: 32,
      });
      seededRefs.push(...added.map(({ namespace, name }) => ({ namespace, name })));
      seeded += namespaces * perNamespace;
    }
    let rekeyRuns: AcrossRotation[] = [];
    if (n === THROUGHPUT_N && migrators) {
      const runs: ComparisonRun[] = [];
      for (let i = 0; i < RUNS; i++) {
        const run = await comparisonRun({
          sb,
          runnerEnv: env,
          clients,
          idleMs: IDLE_MS,
          ceilingLevels: CEILING_LEVELS,
          peers: migrators,
          log: (line) => log(`n=${seeded} run ${i + 1}/${RUNS}: ${line}`),
        });
        runs.push(run);
        keyId = run.rekey.keyId;
      }
      emitComparison(report, runs, seeded);
      rekeyRuns = runs.map((r) => r.rekey);
    } else {
      for (let i = 0; i < (n >= LARGE_N ? 1 : RUNS); i++) {
        log(`n=${seeded} rekey run ${i + 1}`);
        const r = await rekeyAcrossRotation(env, sb.dir, keyId);
        rekeyRuns.push(r);
        keyId = r.keyId;
      }
      const rates = rekeyRuns.map((r) => (r.result.counts.reencrypted / r.result.migrateMs) * 1000);
      report.emit('rekey_reencrypted_per_second', median(rates), 'objects/s', seeded, rates.length);
    }
    emitCpu(rekeyRuns, seeded);
    emitTimeline(rekeyRuns, seeded);
    if (PHASES.has('sizes')) {
      const scan = await timeEtcdScan(sb);
      report.emit('etcd_scan_seconds', scan.ms / 1000, 's', scan.values, 1);
      projection.etcdScanMs.push({ n: scan.values, value: scan.ms });
      for (const r of rekeyRuns) {
        projection.migrateMs.push({ n: r.result.counts.listed, value: r.result.migrateMs });
        projection.rssMib.push({ n: r.result.counts.listed, value: r.result.maxRssKb / 1024 });
      }
    }
    if (RSS_SIZES.includes(n)) {
      const mib = median(rekeyRuns.map((r) => r.result.maxRssKb / 1024));
      report.emit('rekey_runner_peak_rss', mib, 'MiB', seeded, rekeyRuns.length, RSS_TARGET);
      rss.push({ n: seeded, mib });
    }
  }
  const [low, high] = [rss[0], rss.at(-1)];
  if (low && high && high.n > low.n) {
    report.emit('rekey_runner_rss_flatness', high.mib / low.mib, 'x', high.n, 1, {
      op: '<=',
      value: 1.2,
    });
  }
  if (projection.migrateMs.length > 0) {
    const p = projectTo(PROJECT_TO, projection);
    log(
      `projection to ${PROJECT_TO} from ${JSON.stringify(projection)}: ${JSON.stringify(p.fits)}`,
    );
    report.emit('projected_migrate_seconds', p.migrateSeconds, 's', PROJECT_TO, 1);
    report.emit('projected_runner_peak_rss', p.runnerRssMib, 'MiB', PROJECT_TO, 1, RSS_TARGET);
    report.emit('projected_etcd_scan_seconds', p.etcdScanSeconds, 's', PROJECT_TO, 1);
  }
  if (PHASES.has('stale')) {
    if (seededRefs.length === 0) {
      const added = await seedMany(coreApi(sb.env), {
        namespaces: Math.ceil(THROUGHPUT_N / PER_NAMESPACE),
        perNamespace: Math.min(PER_NAMESPACE, THROUGHPUT_N),
        prefix: 'bench-stale',
        concurrency: 32,
      });
      seededRefs.push(...added.map(({ namespace, name }) => ({ namespace, name })));
    }
    log(
      `half stale: ${seededRefs.length} seeded secrets, every other one written by a client first`,
    );
    const half = await halfStaleRun(sb, env, keyId, seededRefs);
    keyId = half.keyId;
    log(`half stale: ${JSON.stringify({ writtenByClient: half.writtenByClient, ...half.result })}`);
    const n = seededRefs.length;
    report.emit('patches_sent_half_stale', half.result.patchesSent ?? Number.NaN, 'requests', n, 1);
    report.emit(
      'patches_skipped_half_stale',
      half.result.counts.alreadyCurrent ?? Number.NaN,
      'objects',
      n,
      1,
    );
  }
  if (PHASES.has('transport')) {
    log("transport: the same GET over HTTP/1.1 (rekey's client) and HTTP/2");
    for (const t of await transportCosts(sb.env)) {
      log(`transport ${t.transport}: ${JSON.stringify(t)}`);
      report.emit(`transport_client_cpu_ms_${t.transport}`, t.clientMs, 'ms', t.requests, 1);
      report.emit(`transport_apiserver_cpu_ms_${t.transport}`, t.apiserverMs, 'ms', t.requests, 1);
      report.emit(`transport_per_second_${t.transport}`, t.perSecond, 'requests/s', t.requests, 1);
    }
  }
} finally {
  for (const p of started) await p.stop();
  await sb.stop();
}
if (PHASES.has('key-change') && peers) await keyChangeFigures(peers);
report.finish(OUT_DIR);

/** CPU seconds per 1,000 objects the migration listed: rekey's runner, the apiservers, etcd. */
function emitCpu(runs: readonly AcrossRotation[], n: number): void {
  const per = runs.flatMap((r) =>
    r.result.cpuSeconds ? [perThousand(r.result.cpuSeconds, r.result.counts.listed)] : [],
  );
  if (per.length === 0) return;
  for (const part of ['rekey', 'apiserver', 'etcd'] as const) {
    const values = per.map((c) => c[part]);
    report.emit(`${part}_cpu_seconds_per_1000`, median(values), 's', n, values.length);
  }
}

/**
 * Where the migration's wall-clock time went (test/bench/timeline.ts), as shares of it: with a
 * patch in flight, with a list page or an etcd read in flight, and with no call in flight.
 */
function emitTimeline(runs: readonly AcrossRotation[], n: number): void {
  const shares = runs.flatMap(({ result: r }) =>
    r.timelineMs && r.migrateMs > 0
      ? [
          {
            patch: r.timelineMs.patch / r.migrateMs,
            listOrEtcd: (r.timelineMs.list + r.timelineMs.etcdRead) / r.migrateMs,
            verify: r.timelineMs.verify / r.migrateMs,
            idle: 1 - r.timelineMs.busy / r.migrateMs,
          },
        ]
      : [],
  );
  if (shares.length === 0) return;
  for (const part of ['patch', 'listOrEtcd', 'verify', 'idle'] as const) {
    const values = shares.map((s) => s[part] * 100);
    report.emit(`rekey_time_share_${snake(part)}`, median(values), '%', n, values.length);
  }
  log(`rewrite concurrency chosen: ${JSON.stringify(runs.map((r) => r.result.concurrency))}`);
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** The started-at-the-key-change figures, on a second sandbox of two apiservers. */
async function keyChangeFigures(peers: NonNullable<ReturnType<typeof ensurePeers>>): Promise<void> {
  // a failure here must not throw away the figures measured above: they are reported, the
  // missing ones as not measured, and the bench exits non-zero
  const left = await leftUnderOldKey({
    secrets: KEY_CHANGE_N,
    peers,
    log: (line) => log(`at the key change: ${line}`),
  }).catch((err: Error) => {
    log(`at the key change: failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
    return { total: KEY_CHANGE_N, rekey: Number.NaN, ksvm: Number.NaN, svm: Number.NaN };
  });
  for (const tool of ['rekey', 'ksvm', 'svm'] as const) {
    report.emit(`left_under_old_key_${tool}`, left[tool], '%', left.total, 1, {
      op: '<=',
      value: 0,
      text: '0',
    });
  }
}
