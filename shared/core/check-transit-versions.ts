// A danger only Vault / OpenBao transit keys have: someone raised the key's min_decryption_version
// above versions that still wrap objects in etcd. The apiservers then read those objects only while
// they keep the DEK seed cached; after a restart they cannot. Judged from the key inventory (what
// etcd holds) and the server's key state; when found, recorded as a key danger (the newest
// revision's note and a `key.danger` event) naming the versions and the providers they are under.
// Every KMS provider's rows are judged, not only `provider`'s: `provider` (the followed one) is
// where the danger is recorded.
import type { KeyInventory } from '../domain/key-inventory.ts';
import {
  describeUndecryptable,
  type TransitKeyState,
  type UndecryptableKeyId,
  undecryptableKeyIds,
} from '../domain/transit-key.ts';
import type { TransitKeyReader } from '../ports/transit-key-reader.ts';
import type { ReconcileDeps } from './deps.ts';
import { recordKeyDanger } from './record-key-danger.ts';

export type TransitVersionsReport =
  | { checked: false; key: string; reason: string }
  | {
      checked: true;
      key: string;
      state: TransitKeyState;
      undecryptable: UndecryptableKeyId[];
      /** The danger line, when there is one. */
      danger?: string;
      revision?: string;
    };

export async function checkTransitVersions(
  deps: Pick<ReconcileDeps, 'store' | 'clock' | 'log' | 'events'>,
  provider: string,
  inventory: KeyInventory,
  reader: TransitKeyReader,
): Promise<TransitVersionsReport> {
  let state: TransitKeyState;
  try {
    state = await reader.read();
  } catch (err) {
    return { checked: false, key: reader.key, reason: (err as Error).message };
  }
  const undecryptable = undecryptableKeyIds(inventory.rows, state);
  if (undecryptable.length === 0) return { checked: true, key: reader.key, state, undecryptable };
  const danger = describeUndecryptable(reader.key, state, undecryptable);
  const recorded = await recordKeyDanger(deps, provider, {
    key: reader.key,
    what: danger,
    at: deps.clock.now().toISOString(),
    via: 'transit-key-check',
  });
  return { checked: true, key: reader.key, state, undecryptable, danger, ...recorded };
}
