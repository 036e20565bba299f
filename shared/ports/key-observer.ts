// Port: a fresh look at which key_id a KMS provider uses now (plugin Status via the reporter,
// apiserver metrics, the AWS/GCP APIs). Cloud events only trigger a call to it.

import type { Observation } from '../domain/observation.ts';
import type { PluginHealth } from '../domain/phase.ts';

/** What one look found: zero or more observations (one per source that answered) and health. */
export interface KeyObservation {
  observations: Observation[];
  /** `unknown` when this observer cannot see the plugin (e.g. a cloud API). */
  pluginHealth: PluginHealth;
}

/**
 * Observes key_ids. Guarantees: each observation is read now (not replayed from an event), names
 * its source and time, and carries the key_id only (never key material); a source that cannot be
 * reached contributes no observation instead of failing the whole look.
 */
export interface KeyObserver {
  observe(provider: string): Promise<KeyObservation>;
}
