// Writers for fault tests. test/support/workload.ts counts a failed write as "not written", which
// is right when the control plane stays up; across an apiserver or etcd restart a write can fail
// at the client yet have been committed. These writers keep such uncertain values per object, so
// the loss check accepts the last acknowledged write or any later attempt, and nothing else.
import type { CoreV1Api } from '@kubernetes/client-node';
import { mergePatch } from '../support/kube.ts';
import type { Seeded } from '../support/seed.ts';

export interface WriterRecord {
  writes: number;
  errors: number;
  /** namespace/name -> the values the object may hold now (last acknowledged + uncertain after it). */
  acceptable: Map<string, Set<string>>;
}

/** `clients` loops; client i owns the objects at index % clients === i, pausing `pauseMs` between writes. */
export function startWriters(
  api: CoreV1Api,
  objects: readonly Seeded[],
  { clients = 4, pauseMs = 50 } = {},
) {
  let running = true;
  const record: WriterRecord = {
    writes: 0,
    errors: 0,
    acceptable: new Map(objects.map((o) => [`${o.namespace}/${o.name}`, new Set([o.value])])),
  };
  const loops = Array.from({ length: clients }, async (_, c) => {
    const mine = objects.filter((_, i) => i % clients === c);
    for (let n = 0; running && mine.length > 0; n++) {
      const o = mine[n % mine.length] as Seeded;
      const key = `${o.namespace}/${o.name}`;
      const value = Buffer.from(`fault-writer-${c}-${n}`).toString('base64');
      try {
        await api.patchNamespacedSecret(
          { name: o.name, namespace: o.namespace, body: { data: { value } } },
          mergePatch,
        );
        record.acceptable.set(key, new Set([value]));
        record.writes++;
      } catch {
        // committed or not, we cannot know: both the previous value and this one are acceptable
        record.acceptable.set(key, new Set([...(record.acceptable.get(key) ?? []), value]));
        record.errors++;
      }
      await new Promise((r) => setTimeout(r, pauseMs));
    }
  });
  return {
    record,
    async stop(): Promise<WriterRecord> {
      running = false;
      await Promise.all(loops);
      return record;
    },
  };
}
