// Impact on other clients: a few paced clients, each updating its own secrets and reading one,
// in a namespace of their own, measured idle and around a phase (rekey's migration, kubectl
// replace). A sample is one iteration (update + GET), in milliseconds.
import { coreApi } from '../support/kube.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { seedMany } from '../support/seed.ts';
import { type Owned, startWorkload } from '../support/workload.ts';
import { clientApi } from './client-identity.ts';
import { percentile } from './stats.ts';

export interface LatencyStats {
  p50Ms: number;
  p99Ms: number;
  errors: number;
  samples: number;
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
    try {
      return { result: await phase(), stats: load.result };
    } finally {
      await load.stop();
    }
  };
  const summarise = (r: { latenciesMs: number[]; errors: string[] }): LatencyStats => ({
    p50Ms: percentile(r.latenciesMs, 50),
    p99Ms: percentile(r.latenciesMs, 99),
    errors: r.errors.length,
    samples: r.latenciesMs.length,
  });
  return {
    async idle(ms) {
      const { stats } = await measure(() => new Promise((r) => setTimeout(r, ms)));
      return summarise(stats);
    },
    async during(phase) {
      const { result, stats } = await measure(phase);
      return { result, latency: summarise(stats) };
    },
  };
}
