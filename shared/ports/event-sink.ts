// Port: the CloudEvents rekey emits to K_SINK (docs/architecture.md, "Events").

import type { MigrationCounts } from '../domain/migration-counts.ts';

/** Every event type, without the `dev.rekey.` prefix the adapter adds. */
export const REKEY_EVENT_TYPES = [
  'revision.created',
  'migration.slice',
  'migration.completed',
  'migration.degraded',
  'verification.completed',
] as const;

/** One of {@link REKEY_EVENT_TYPES}. */
export type RekeyEventType = (typeof REKEY_EVENT_TYPES)[number];

/** What every event carries: identities and counts, never a key_id or a secret value. */
export interface RekeyEventData {
  provider: string;
  revision: string;
  keyIdHash: string;
  counts?: MigrationCounts;
  reason?: string;
  [extra: string]: unknown;
}

/**
 * Emits events. Guarantees: delivery to the sink is attempted once per call and failures reject
 * (the caller decides); the data is sent as given, so callers put no secret in it.
 */
export interface EventSink {
  emit(type: RekeyEventType, data: RekeyEventData): Promise<void>;
}
