// Impact on other clients: a few paced clients, each updating its own secrets and reading one,
// in a namespace of their own, measured idle and around a phase (rekey's migration, kubectl
// replace, a storage version migrator). A sample is one iteration (update + GET), in
// milliseconds. After each phase the clients' last writes are read back (lost updates).
import { coreApi } from '../support/kube.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { seedMany } from '../support/seed.ts';
import { type Owned, startWorkload, type WorkloadResult } from '../support/workload.ts';
import { clientApi } from './client-identity.ts';
import { countLostUpdates } from './lost-updates.ts';
import { percentile } from './stats.ts';

export interface LatencyStats {
  p50Ms: number;
  p99Ms: number;
  errors: number;
  samples: number;
  /** Objects whose last acknowledged write was gone after the phase. */
  lostUpdates: number;
}

export interface Clients {
  /** Runs the clients for `ms` with nothing else going on. */
  idle(ms: number): Promise<LatencyStats>;
  /** Runs the clients for exactly as long as `phase` runs. */
  during<T>(phase: () => Promise<T>): Promise<{ result: T; latency: LatencyStats }>;
}

export async function setUpClients(
  env: SandboxEnv,
  { clients, perClient, pauseMs }: { clients: number; perClient: number; pauseMs: number },
): Promise<Clients> {
  const prefix = 'bench-clients';
  const owned: Owned[] = await seedMany(coreApi(env), {
    namespaces: 1,
    perNamespace: clients * perClient,
    prefix,
  });
  const api = await clientApi(env, `${prefix}-0`);
  const measure = async <T>(phase: () => Promise<T>) => {
    const load = startWorkload(api, owned, { clients, pauseMs });
    let result: T;
    try {
      result = await phase();
    } finally {
      await load.stop();
    }
    return { result, latency: await summarise(load.result) };
  };
  const summarise = async (r: WorkloadResult): Promise<LatencyStats> => ({
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    errors: r.errors.length,
    samples: r.latenciesMs.length,
    lostUpdates: await countLostUpdates(api, r),
  });
  return {
    async idle(ms) {
      return (await measure(() => new Promise((r) => setTimeout(r, ms)))).latency;
    },
    during: measure,
  };
}
