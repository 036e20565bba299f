// An in-memory RevisionStore with the same guarantees as the cluster one (atomic create by name,
// updates only at the expected version), for unit tests and dry runs.
import type { Revision } from '../../domain/revision.ts';
import type { RevisionStore, StoredRevision } from '../../ports/revision-store.ts';

export function createMemoryRevisionStore(
  initial: readonly Revision[] = [],
): RevisionStore & { all(): Revision[] } {
  const records = new Map<string, StoredRevision>();
  let version = 0;
  const put = (r: Revision): StoredRevision => {
    const s = { revision: structuredClone(r), version: String(++version) };
    records.set(r.name, s);
    return structuredClone(s);
  };
  for (const r of initial) put(r);
  return {
    all: () => [...records.values()].map((s) => structuredClone(s.revision)),
    async list(provider) {
      return [...records.values()]
        .filter((s) => s.revision.provider === provider)
        .map((s) => structuredClone(s));
    },
    async createIfAbsent(revision) {
      const existing = records.get(revision.name);
      if (existing) return { result: 'exists', stored: structuredClone(existing) };
      return { result: 'created', stored: put(revision) };
    },
    async update(revision, expectedVersion) {
      const existing = records.get(revision.name);
      if (!existing || existing.version !== expectedVersion) return { result: 'conflict' };
      return { result: 'updated', stored: put(revision) };
    },
    async delete(name, expectedVersion) {
      const existing = records.get(name);
      if (!existing || (expectedVersion && existing.version !== expectedVersion))
        return { result: 'conflict' };
      records.delete(name);
      return { result: 'deleted' };
    },
  };
}
