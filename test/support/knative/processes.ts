// Starts the Knative tier's processes detached (they outlive `sandbox up --knative`; `sandbox
// down` stops them with the rest): the five Knative programs, rekey's four functions each under
// its own ServiceAccount, and the dead-letter sink.
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DeployedName, functionEnv, functionMain } from '../deployed-functions.ts';
import type { SandboxEnv } from '../sandbox/env-file.ts';
import { isAlive, type ProcessRecord, startDetached } from '../sandbox/processes.ts';
import type { KnativePrograms } from './build.ts';
import { KNATIVE_SYSTEM_NAMESPACE } from './install.ts';

/** The InMemoryChannel dispatcher's ports: fixed in Knative's code, not settable. */
export const DISPATCHER_PORTS = [8080, 8443] as const;

export type Track = (rec: ProcessRecord) => void;

/** Whether a TCP port can be bound on every interface (as the dispatcher binds it). */
export function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, () => s.close(() => resolve(true)));
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

/** Waits until `rec` accepts connections on `port`; fails at once if it exits meanwhile. */
export async function waitListening(
  what: string,
  port: number,
  rec: ProcessRecord,
  timeoutMs = 120_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(rec.pid)) throw new Error(`${what} exited during start-up: see ${rec.log}`);
    if (await connects(port)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what} on port ${port}`);
}

/** Environment every Knative program reads, as its Deployment in Knative's config/ sets it. */
function knativeEnv(name: string, kubeconfig: string, profilingPort: number): NodeJS.ProcessEnv {
  return {
    ...process.env,
    KUBECONFIG: kubeconfig,
    SYSTEM_NAMESPACE: KNATIVE_SYSTEM_NAMESPACE,
    NAMESPACE: KNATIVE_SYSTEM_NAMESPACE,
    POD_NAME: `${name}-sandbox`,
    CONTAINER_NAME: name,
    CONFIG_LOGGING_NAME: 'config-logging',
    CONFIG_OBSERVABILITY_NAME: 'config-observability',
    METRICS_DOMAIN: 'knative.dev/internal/eventing',
    // each program serves pprof on PROFILING_PORT (default 8008): one port each
    PROFILING_PORT: String(profilingPort),
  };
}

export interface ProgramStart {
  programs: KnativePrograms;
  logDir: string;
  /** The Knative platform's identity (a kubeconfig file). */
  kubeconfig: string;
  track: Track;
}

export function startProgram(
  s: ProgramStart,
  program: keyof KnativePrograms,
  container: string,
  profilingPort: number,
  extra: Record<string, string>,
  kubeconfig = s.kubeconfig,
  /** Names one of several processes of the same program (one adapter per source). */
  instance?: string,
): ProcessRecord {
  const name = instance ? `knative-${program}-${instance}` : `knative-${program}`;
  const rec = startDetached(name, s.programs[program], [], {
    log: join(s.logDir, `${name}.log`),
    env: { ...knativeEnv(container, kubeconfig, profilingPort), ...extra },
  });
  s.track(rec);
  return rec;
}

/** Starts one of rekey's functions detached, as its Knative Service runs it. */
export function startFunction(
  env: SandboxEnv,
  name: DeployedName,
  o: {
    kubeconfig: string;
    sink: string;
    port: number;
    settings: Record<string, string>;
    logDir: string;
    track: Track;
  },
): ProcessRecord {
  const rec = startDetached(`rekey-${name}`, process.execPath, [functionMain(name)], {
    log: join(o.logDir, `rekey-${name}.log`),
    env: functionEnv(env, name, o),
  });
  o.track(rec);
  return rec;
}

export function startDeadLetters(port: number, logDir: string, track: Track): ProcessRecord {
  const main = fileURLToPath(new URL('./dead-letters.ts', import.meta.url));
  const rec = startDetached('rekey-dead-letters', process.execPath, [main], {
    log: join(logDir, 'rekey-dead-letters.log'),
    env: { ...process.env, PORT: String(port) },
  });
  track(rec);
  return rec;
}
