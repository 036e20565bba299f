// One container of rekey's image, run detached with podman on the host's network (so it reaches a
// sandbox on loopback as a local process would), stopped as Kubernetes stops a pod: SIGTERM, then
// its exit code read back.
import { randomBytes } from 'node:crypto';
import { podman, podmanResult } from './podman.ts';

export interface ContainerOptions {
  /** The command after the image's entrypoint (`node`), e.g. `functions/reconcile/main.ts`. */
  args: string[];
  env?: Record<string, string>;
  /** Host paths mounted read-only at the same path inside. */
  mounts?: string[];
  /** A user other than the image's (the key-id reporter runs as root, as its DaemonSet does). */
  user?: string;
}

export interface Container {
  name: string;
  /** What it printed so far (for failure messages). */
  logs(): string;
  /** Whether it is still running. */
  running(): boolean;
  /**
   * Polls `url` until it answers 200 (within `timeoutMs`, generous: the machine may be loaded);
   * fails at once, with the container's output, when the container has exited.
   */
  untilOk(url: string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, wait up to `graceSeconds`, then its exit code; the container is removed. */
  stop(graceSeconds?: number): number;
}

export function runContainer(image: string, label: string, opts: ContainerOptions): Container {
  const name = `rekey-test-${label}-${randomBytes(4).toString('hex')}`;
  podman([
    'run',
    '--detach',
    '--name',
    name,
    '--network',
    'host',
    ...(opts.user ? ['--user', opts.user] : []),
    ...Object.entries(opts.env ?? {}).flatMap(([k, v]) => ['--env', `${k}=${v}`]),
    ...(opts.mounts ?? []).flatMap((p) => ['--volume', `${p}:${p}:ro`]),
    image,
    ...opts.args,
  ]);
  return {
    name,
    logs() {
      const r = podmanResult(['logs', name]);
      return (r.stdout + r.stderr).slice(-4000);
    },
    running() {
      return (
        podmanResult(['inspect', '--format', '{{.State.Running}}', name]).stdout.trim() === 'true'
      );
    },
    async untilOk(url, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const r = await fetch(url).catch(() => undefined);
        if (r?.status === 200) return;
        if (!this.running())
          throw new Error(`${name} exited before ${url} answered:\n${this.logs()}`);
        if (Date.now() > deadline)
          throw new Error(`${url} not 200 within ${timeoutMs / 1000} s:\n${this.logs()}`);
        await new Promise((res) => setTimeout(res, 100));
      }
    },
    stop(graceSeconds = 20) {
      podmanResult(['stop', '--time', String(graceSeconds), name]);
      const code = Number(
        podmanResult(['inspect', '--format', '{{.State.ExitCode}}', name]).stdout.trim(),
      );
      podmanResult(['rm', '--force', name]);
      return code;
    },
  };
}
