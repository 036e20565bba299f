// The Vault / OpenBao settings as the adapters take them, and the transit key reader behind a
// provider whose REKEY_KMS_KEY is a transit key path.
import { createVaultTransit, type VaultTransitOptions } from '../adapters/vault-transit/client.ts';
import type { RekeyConfig } from '../config/config.ts';
import { parseTransitKey } from '../domain/transit-key.ts';
import type { TransitKeyReader } from '../ports/transit-key-reader.ts';

/** The server, token file and namespace; undefined unless both address and token file are set. */
export function vaultOptionsOf(config: RekeyConfig): VaultTransitOptions | undefined {
  if (!config.REKEY_VAULT_ADDR || !config.REKEY_VAULT_TOKEN_FILE) return undefined;
  return {
    address: config.REKEY_VAULT_ADDR,
    tokenFile: config.REKEY_VAULT_TOKEN_FILE,
    ...(config.REKEY_VAULT_NAMESPACE ? { namespace: config.REKEY_VAULT_NAMESPACE } : {}),
  };
}

/** Reads the transit key of REKEY_KMS_KEY; undefined when it is not a transit key. */
export function transitKeyReaderOf(config: RekeyConfig): TransitKeyReader | undefined {
  const key = config.REKEY_KMS_KEY;
  const vault = vaultOptionsOf(config);
  if (!key || !vault || !parseTransitKey(key)) return undefined;
  const transit = createVaultTransit(vault);
  return { key, read: () => transit.readKey(key) };
}
