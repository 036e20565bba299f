// Where a rewrite's time goes: CPU seconds (user + system) of rekey's runner, the apiservers and
// etcd, read from /proc/<pid>/stat before and after the migration. Linux only; the sandbox's
// processes are the binaries themselves (test/support/sandbox/env-file.ts `processes`).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** CPU seconds per part: rekey's runner, every apiserver summed, etcd. */
export interface CpuSeconds {
  rekey: number;
  apiserver: number;
  etcd: number;
}

/** Which pids make up each part besides the runner, as BENCH_CPU_PIDS carries them. */
export interface CpuPids {
  apiserver: number[];
  etcd: number[];
}

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux build in practice). */
const TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/**
 * utime + stime of a /proc/<pid>/stat line, in seconds. The command name (field 2) may hold
 * spaces and parentheses, so fields are counted from the last ')': utime and stime are fields 14
 * and 15, the 12th and 13th after it.
 */
export function cpuSecondsOfStat(stat: string, ticksPerSecond = TICKS): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`not a /proc/<pid>/stat line: ${stat.slice(0, 80)}`);
  }
  return (utime + stime) / ticksPerSecond;
}

/** CPU seconds a process has used so far (`self` for this one). */
export function cpuSecondsOf(pid: number | 'self'): number {
  return cpuSecondsOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
}

/** `apiserver:<pid>,etcd:<pid>,…` (BENCH_CPU_PIDS) as pids per part. */
export function parseCpuPids(value: string | undefined): CpuPids | undefined {
  if (!value) return undefined;
  const pids: CpuPids = { apiserver: [], etcd: [] };
  for (const item of value.split(',')) {
    const [part, pid] = item.split(':');
    if ((part === 'apiserver' || part === 'etcd') && Number.isInteger(Number(pid))) {
      pids[part].push(Number(pid));
    } else throw new Error(`BENCH_CPU_PIDS: not <apiserver|etcd>:<pid>: ${item}`);
  }
  return pids;
}

/** The sandbox's apiservers and etcd as BENCH_CPU_PIDS. */
export function formatCpuPids(processes: readonly { name: string; pid: number }[]): string {
  return processes
    .flatMap((p) =>
      p.name.startsWith('apiserver-')
        ? [`apiserver:${p.pid}`]
        : p.name === 'etcd'
          ? [`etcd:${p.pid}`]
          : [],
    )
    .join(',');
}

/** A reading of every part now. */
export function sampleCpu(pids: CpuPids): CpuSeconds {
  const sum = (xs: number[]) => xs.reduce((a, pid) => a + cpuSecondsOf(pid), 0);
  return { rekey: cpuSecondsOf('self'), apiserver: sum(pids.apiserver), etcd: sum(pids.etcd) };
}

/** What each part used between two readings. */
export function cpuBetween(before: CpuSeconds, after: CpuSeconds): CpuSeconds {
  return {
    rekey: after.rekey - before.rekey,
    apiserver: after.apiserver - before.apiserver,
    etcd: after.etcd - before.etcd,
  };
}

/** CPU seconds per 1,000 objects. */
export function perThousand(cpu: CpuSeconds, objects: number): CpuSeconds {
  const k = objects / 1000;
  return { rekey: cpu.rekey / k, apiserver: cpu.apiserver / k, etcd: cpu.etcd / k };
}
