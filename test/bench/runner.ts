// The measured runner: rekey's reconcile steps in a process of their own (so its peak RSS is
// rekey's alone), configured like the CLI from REKEY_* variables. It prints {"ready":true} after
// its first step, so the bench can rotate the key while it polls; then it waits out convergence
// and times the migration and verification of the first revision whose key_id is not
// BENCH_PREVIOUS_KEY_ID (any revision when unset), and prints one JSON line of results: counts,
// time, patches sent, peak RSS and, with BENCH_CPU_PIDS, the CPU seconds the migration cost rekey,
// the apiservers and etcd (from /proc, read before the step that began migrating and at the end).
import { readFileSync } from 'node:fs';
import type { RestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { composeApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import { reconcileStep } from '../../shared/core/reconcile-step.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import { type CpuSeconds, cpuBetween, parseCpuPids, sampleCpu } from './proc-cpu.ts';
import { type CallKind, createTimeline, type TimelineMs, timelineBetween } from './timeline.ts';

const previous = process.env.BENCH_PREVIOUS_KEY_ID;
const previousHash = previous ? keyIdHash(previous) : undefined;
let firstRewriteAt: number | undefined;
let patchesSent = 0;
const cpuPids = parseCpuPids(process.env.BENCH_CPU_PIDS);
const timeline = createTimeline();
/** The rewrite concurrency the adaptive limit chose, each time it changed. */
const concurrencies: number[] = [];
const kindOf = (method: string | undefined, accept: string | undefined): CallKind =>
  method === 'PATCH'
    ? 'patch'
    : (method ?? 'GET') === 'GET' && accept?.includes('as=PartialObjectMetadataList')
      ? 'list'
      : 'otherApi';
// The first patch the apiserver accepted, not the first checkpoint (onProgress fires once a whole
// page is done): the time to first rewrite should not include a page's worth of work.
const noteRewrites = (rest: RestClient): RestClient => ({
  async request(req) {
    const res = await timeline.track(kindOf(req.method, req.accept), () => rest.request(req));
    if (req.method === 'PATCH') patchesSent++;
    if (req.method === 'PATCH' && res.status === 200) firstRewriteAt ??= Date.now();
    return res;
  },
  close: () => rest.close(),
});
const built = composeApp(loadConfig(process.env), {
  wrapRest: noteRewrites,
  log: (message, fields) => {
    if (message === 'rewrite concurrency adapted' && typeof fields?.concurrency === 'number') {
      concurrencies.push(fields.concurrency);
    }
  },
});
// the etcd reads that split pages and the proof's scans, timed like the API calls
const stored = built.deps.storedEncryption;
if (stored) {
  const read = stored.read.bind(stored);
  stored.read = (...args) => timeline.track('etcdRead', () => read(...args));
}
const verifier = built.deps.verifier;
if (verifier) {
  const scan = verifier.scan.bind(verifier);
  verifier.scan = (...args) => timeline.track('verify', () => scan(...args));
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/**
 * This process's own peak RSS: VmHWM, the high-water mark of its address space. Not
 * getrusage's maxRSS: Linux carries the parent's RSS at fork over the exec into the child's
 * maxRSS, so it would report the bench process (which holds the seeded objects) instead.
 */
const peakRssKb = () =>
  Number(/^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? Number.NaN);
let migrateStartedAt: number | undefined;
let cpuAtStart: CpuSeconds | undefined;
let timelineAtStart: TimelineMs | undefined;
let ready = false;
try {
  for (;;) {
    const t = Date.now();
    const cpuBefore = cpuPids ? sampleCpu(cpuPids) : undefined;
    const timelineBefore = timeline.totals();
    const o = await reconcileStep(built.deps, built.reconcile);
    if (!ready) {
      ready = true;
      process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
    }
    if (o.kind !== 'step' || o.keyIdHash === previousHash) {
      await sleep(500);
      continue;
    }
    if (o.step.kind === 'wait-convergence') {
      await sleep(1000);
      continue;
    }
    if (migrateStartedAt === undefined) {
      migrateStartedAt = t;
      cpuAtStart = cpuBefore;
      timelineAtStart = timelineBefore;
    }
    if (!o.more) {
      const doneAt = Date.now();
      process.stdout.write(
        `${JSON.stringify({
          phase: o.phase,
          counts: o.counts,
          migrateMs: doneAt - migrateStartedAt,
          firstRewriteAt,
          patchesSent,
          maxRssKb: peakRssKb(),
          timelineMs: timelineBetween(timelineAtStart ?? timeline.totals(), timeline.totals()),
          concurrency: { last: concurrencies.at(-1), max: Math.max(0, ...concurrencies) },
          ...(cpuPids && cpuAtStart
            ? { cpuSeconds: cpuBetween(cpuAtStart, sampleCpu(cpuPids)) }
            : {}),
        })}\n`,
      );
      break;
    }
  }
} finally {
  built.close();
}
