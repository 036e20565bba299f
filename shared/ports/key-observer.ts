// Port: a fresh look at which key_id a KMS provider uses now (plugin Status via the reporter,
// apiserver metrics, the AWS/GCP APIs). Cloud events only trigger a call to it.

import type { EncryptionConfigEntry } from '../domain/encryption-config.ts';
import type { Observation } from '../domain/observation.ts';
import type { PluginHealth } from '../domain/phase.ts';

/**
 * One apiserver node's EncryptionConfiguration as its key-id reporter read it: the file's hash
 * (`sha256:<hex>`, as kube-apiserver hashes it) and the entries that list the observed provider,
 * patterns as written, `write` when the provider is the entry's first (it encrypts writes).
 */
export interface ReportedEncryptionConfig {
  node: string;
  hash: string;
  resources: { resources: string[]; write: boolean }[];
  /** Every entry of the file (patterns, provider types and names), when the reporter sent them. */
  entries?: EncryptionConfigEntry[];
}

/** What one look found: zero or more observations (one per source that answered) and health. */
export interface KeyObservation {
  observations: Observation[];
  /** `unknown` when this observer cannot see the plugin (e.g. a cloud API). */
  pluginHealth: PluginHealth;
  /**
   * Undefined when this observer cannot see EncryptionConfigurations (plugin socket, cloud APIs);
   * otherwise one item per fresh report that carried one (possibly none).
   */
  encryptionConfigs?: ReportedEncryptionConfig[];
}

/**
 * Observes key_ids. Guarantees: each observation is read now (not replayed from an event), names
 * its source and time, and carries the key_id only (never key material); a source that cannot be
 * reached contributes no observation instead of failing the whole look.
 */
export interface KeyObserver {
  observe(provider: string): Promise<KeyObservation>;
}

/**
 * The EncryptionConfiguration every fresh key-id report names, whatever provider it reports on:
 * where rekey learns which kms provider writes when REKEY_PROVIDER does not pin one. Guarantees:
 * read now, stale and future-dated reports left out (as KeyObserver's), patterns and provider
 * names only (never key material).
 */
export interface ReportedConfigs {
  read(): Promise<ReportedEncryptionConfig[]>;
}
