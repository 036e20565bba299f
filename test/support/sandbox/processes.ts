// Starts sandbox processes detached (they outlive `sandbox up`) and stops them by process
// group, so that `sandbox down` from another process leaves nothing running.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';

export interface ProcessRecord {
  name: string;
  pid: number;
  log: string;
}

export interface StartOptions {
  log: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Spawns `cmd` in its own process group with stdout and stderr appended to `log`. */
export function startDetached(
  name: string,
  cmd: string,
  args: readonly string[],
  { log, env = process.env, cwd }: StartOptions,
): ProcessRecord {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ['ignore', fd, fd], env, cwd });
    if (child.pid === undefined) throw new Error(`could not start ${name} (${cmd})`);
    child.unref();
    return { name, pid: child.pid, log };
  } finally {
    closeSync(fd);
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      // already gone
    }
  }
}

/** SIGTERM to the process group, then SIGKILL if it is still there after the grace period. */
export async function stopProcess(rec: ProcessRecord, { graceMs = 10_000 } = {}): Promise<void> {
  if (!isAlive(rec.pid)) return;
  signalGroup(rec.pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(rec.pid)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  signalGroup(rec.pid, 'SIGKILL');
  while (isAlive(rec.pid)) await new Promise((r) => setTimeout(r, 50));
}

/** SIGKILL at once: for fault injection. */
export function killProcess(rec: ProcessRecord): void {
  signalGroup(rec.pid, 'SIGKILL');
}

/** The arguments a running process was started with (Linux /proc), so it can be started again alike. */
export function commandLine(pid: number): string[] {
  const raw = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  return raw.replace(/\0$/, '').split('\0'); // NUL-separated, NUL-terminated
}
