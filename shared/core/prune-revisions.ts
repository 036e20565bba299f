// After a completion, revisions whose key can no longer protect data go, beyond the newest
// `keepRevisions` (default 10; the rule is shared/domain/prune.ts's), so the store does not grow
// one record per rotation forever.
import { revisionsToPrune } from '../domain/prune.ts';
import type { ProviderConfig, ReconcileDeps } from './deps.ts';

export async function pruneRevisions(
  deps: Pick<ReconcileDeps, 'store'>,
  config: Pick<ProviderConfig, 'provider' | 'keepRevisions'>,
): Promise<void> {
  const all = await deps.store.list(config.provider);
  const names = revisionsToPrune(
    all.map((s) => s.revision),
    { keep: config.keepRevisions ?? 10 },
  );
  for (const name of names) {
    const s = all.find((x) => x.revision.name === name);
    await deps.store.delete(name, s?.version);
  }
}
