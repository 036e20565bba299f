// Port: the EncryptionSwitch objects (rekey.dev/v1alpha1, cluster-scoped): the operator's declared
// desired state for the providers, and where rekey reports how far the switch is.

import type { EncryptionSwitchStatus } from '../domain/encryption-revisions/switch-conditions.ts';

/** One EncryptionSwitch as stored: its spec is left unread here (the domain reads it). */
export interface StoredEncryptionSwitch {
  name: string;
  generation: number;
  /** For the conditional status update. */
  resourceVersion: string;
  spec: unknown;
  status?: Partial<EncryptionSwitchStatus> | undefined;
}

/**
 * Guarantees: `get` answers undefined when the object (or its CRD) does not exist;
 * `updateStatus` writes the status subresource only (never the spec), and only at
 * `resourceVersion` (false on a conflict: the object changed meanwhile).
 */
export interface EncryptionSwitchStore {
  get(name: string): Promise<StoredEncryptionSwitch | undefined>;
  updateStatus(
    s: Pick<StoredEncryptionSwitch, 'name' | 'resourceVersion'>,
    status: EncryptionSwitchStatus,
  ): Promise<boolean>;
}
