// The KMS says the key configured behind a provider (the one every object of it is wrapped under,
// whatever its material) is being deleted, destroyed or expiring: an outage in waiting. Record it
// on the newest revision (a condition every status shows) and raise a loud `dev.rekey.key.danger`.
import { type KeyDangerNote, newestOf } from '../domain/revision.ts';
import type { ReconcileDeps } from './deps.ts';
import { openSession } from './revision-session.ts';

export async function recordKeyDanger(
  deps: Pick<ReconcileDeps, 'store' | 'clock' | 'log' | 'events'>,
  provider: string,
  note: KeyDangerNote,
): Promise<{ revision?: string }> {
  const stored = await deps.store.list(provider);
  const newest = newestOf(stored, (s) => s.revision.number);
  deps.log?.('KMS key in danger', { provider, what: note.what, via: note.via });
  if (newest)
    await openSession(deps.store, newest, deps.clock).save((r) => ({ ...r, keyDanger: note }));
  await deps.events?.emit('key.danger', {
    provider,
    ...(newest ? { revision: newest.revision.name, keyIdHash: newest.revision.keyIdHash } : {}),
    what: note.what,
    key: note.key,
    at: note.at,
  });
  return newest ? { revision: newest.revision.name } : {};
}
