// Lost updates under the bench's clients: after a phase, each object a client wrote must hold the
// client's last acknowledged write. A migrator that writes back a stale copy of an object would
// silently undo a client's write. Objects with a failed write in the phase are left out: a write
// can fail at the client and still have been committed, so their value proves nothing.
import type { CoreV1Api } from '@kubernetes/client-node';
import type { WorkloadResult } from '../support/workload.ts';

export async function countLostUpdates(api: CoreV1Api, r: WorkloadResult): Promise<number> {
  const uncertain = new Set(r.errors.map((e) => e.slice(0, e.indexOf(': '))));
  let lost = 0;
  for (const [key, value] of r.lastWritten) {
    if (uncertain.has(key)) continue;
    const [namespace = '', name = ''] = key.split('/');
    const s = await api.readNamespacedSecret({ name, namespace });
    if (s.data?.value !== value) lost++;
  }
  return lost;
}
