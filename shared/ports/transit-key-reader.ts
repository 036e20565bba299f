// Port: what a Vault / OpenBao server says about the transit key behind a provider.

import type { TransitKeyState } from '../domain/transit-key.ts';

/**
 * Reads the transit key's versions. Guarantees: read-only; answers the server's state at the time
 * of the call; failures declare `retryable` (shared/ports/retryable.ts) and never carry the token.
 */
export interface TransitKeyReader {
  /** The key as configured (REKEY_KMS_KEY), e.g. `transit/keys/kms`. */
  readonly key: string;
  read(): Promise<TransitKeyState>;
}
