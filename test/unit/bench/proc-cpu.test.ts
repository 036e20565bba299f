// Reading CPU seconds from /proc/<pid>/stat: fields counted from the last ')' (a command name may
// hold spaces and parentheses), utime + stime in clock ticks; and the pids the runner is handed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  cpuBetween,
  cpuSecondsOf,
  cpuSecondsOfStat,
  formatCpuPids,
  parseCpuPids,
  perThousand,
} from '../../bench/proc-cpu.ts';

describe('cpuSecondsOfStat', () => {
  it('adds utime and stime, counting fields after the command name', () => {
    // pid (comm) state ppid pgrp sid tty tpgid flags minflt cminflt majflt cmajflt utime stime …
    const stat = '4242 (kube (api) server) S 1 4242 4242 0 -1 4194560 900 0 3 0 1234 566 0 0 20 0';
    assert.equal(cpuSecondsOfStat(stat, 100), 18);
  });

  it('refuses a line that is not a stat line', () => {
    assert.throws(() => cpuSecondsOfStat('nonsense', 100), /not a \/proc/);
  });

  it('reads this process from /proc', () => {
    const s = cpuSecondsOf('self');
    assert.ok(s >= 0 && Number.isFinite(s));
  });
});

describe('the pids handed to the runner', () => {
  it('keeps the apiservers and etcd of the sandbox, nothing else', () => {
    const value = formatCpuPids([
      { name: 'etcd', pid: 10 },
      { name: 'kms-plugin-p0', pid: 11 },
      { name: 'apiserver-0', pid: 12 },
      { name: 'apiserver-1', pid: 13 },
    ]);
    assert.equal(value, 'etcd:10,apiserver:12,apiserver:13');
    assert.deepEqual(parseCpuPids(value), { apiserver: [12, 13], etcd: [10] });
    assert.equal(parseCpuPids(''), undefined);
    assert.throws(() => parseCpuPids('plugin:3'), /BENCH_CPU_PIDS/);
  });
});

describe('per 1,000 objects', () => {
  it('divides what each part used by the objects, in thousands', () => {
    const used = cpuBetween(
      { rekey: 1, apiserver: 10, etcd: 2 },
      { rekey: 3, apiserver: 30, etcd: 7 },
    );
    assert.deepEqual(perThousand(used, 500), { rekey: 4, apiserver: 40, etcd: 10 });
  });
});
