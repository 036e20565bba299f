// Concurrent API clients that keep updating and reading secrets while rekey works: each client
// owns a subset and remembers its last write, so a lost update shows as a mismatch afterwards.
import type { CoreV1Api } from '@kubernetes/client-node';
import { mergePatch } from './kube.ts';

export interface Owned {
  namespace: string;
  name: string;
}

export interface WorkloadResult {
  writes: number;
  reads: number;
  errors: string[];
  /** namespace/name -> base64 value of the last acknowledged write. */
  lastWritten: Map<string, string>;
  latenciesMs: number[];
}

/**
 * Runs `clients` loops until `stop()` resolves; client i owns every object at index % clients === i.
 * `pauseMs` between a client's iterations paces the load like real clients (the benchmark's
 * latency figures); 0 keeps every client busy all the time (stress).
 */
export function startWorkload(
  api: CoreV1Api,
  objects: readonly Owned[],
  { clients = 8, pauseMs = 0 } = {},
) {
  let running = true;
  const result: WorkloadResult = {
    writes: 0,
    reads: 0,
    errors: [],
    lastWritten: new Map(),
    latenciesMs: [],
  };
  const loops = Array.from({ length: clients }, async (_, c) => {
    const mine = objects.filter((_, i) => i % clients === c);
    for (let n = 0; running; n++) {
      const o = mine[n % mine.length];
      if (!o) return;
      const value = Buffer.from(`client-${c}-write-${n}`).toString('base64');
      const t0 = performance.now();
      try {
        await api.patchNamespacedSecret(
          { name: o.name, namespace: o.namespace, body: { data: { value } } },
          mergePatch,
        );
        result.lastWritten.set(`${o.namespace}/${o.name}`, value);
        result.writes++;
        const other = objects[(n * 7 + c) % objects.length] as Owned;
        await api.readNamespacedSecret({ name: other.name, namespace: other.namespace });
        result.reads++;
      } catch (err) {
        result.errors.push(`${o.namespace}/${o.name}: ${(err as Error).message.slice(0, 200)}`);
      }
      result.latenciesMs.push(performance.now() - t0);
      if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    result,
    async stop(): Promise<WorkloadResult> {
      running = false;
      await Promise.all(loops);
      return result;
    },
  };
}
