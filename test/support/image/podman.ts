// podman as rekey's image tests use it: installed from Debian's packages when missing (with runc
// and mmdebstrap, which makes the base image), always run with this folder's containers.conf so
// the machine's own container settings are neither needed nor touched.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CONTAINERS_CONF = fileURLToPath(new URL('containers.conf', import.meta.url));
const PACKAGES = ['podman', 'runc', 'mmdebstrap'] as const;
const COMMANDS = ['podman', 'runc', 'mmdebstrap'] as const;

function found(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.error || r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.error?.message ?? `exit ${r.status}`})`);
  }
}

/** Installs podman, runc and mmdebstrap with apt when one is missing (root on Debian/Ubuntu). */
export function ensurePodman(): void {
  const missing = COMMANDS.filter((c) => !found(c));
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0 || !found('apt-get')) {
    throw new Error(
      `the image tests need ${missing.join(', ')}; install the Debian packages ` +
        `${PACKAGES.join(' ')} (or run as root on Debian/Ubuntu, where they are installed for you)`,
    );
  }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  run('apt-get', ['update', '-qq'], env);
  run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...PACKAGES], env);
}

export interface PodmanResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs podman with rekey's containers.conf; returns what it printed, never throws. */
export function podmanResult(
  args: string[],
  opts: { input?: string | Buffer; timeoutMs?: number } = {},
): PodmanResult {
  const r = spawnSync('podman', args, {
    encoding: 'utf8',
    env: { ...process.env, CONTAINERS_CONF },
    input: opts.input,
    timeout: opts.timeoutMs ?? 600_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? r.error?.message ?? '' };
}

/** Runs podman with rekey's containers.conf and returns its stdout; throws with its stderr. */
export function podman(args: string[], opts: { timeoutMs?: number } = {}): string {
  const r = podmanResult(args, opts);
  if (r.status !== 0) throw new Error(`podman ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** Runs podman with its output shown (long builds). */
export function podmanShown(args: string[]): void {
  run('podman', args, { ...process.env, CONTAINERS_CONF });
}

export function imageExists(ref: string): boolean {
  return podmanResult(['image', 'exists', ref]).status === 0;
}
