// What rekey saw: a key_id reported for one KMS provider, by which source, and when.
// Cloud events are hints that trigger a fresh observation; an observation is the truth rekey acts on.
// Where no reporter can read the plugin (hosted control planes), the apiservers' metrics give only
// the key_id's hash: such an observation carries the hash and an empty key_id.
import { keyIdHash } from './key-id.ts';

/** Every place a key_id observation can come from (a const list, so adapters can validate input). */
export const OBSERVATION_SOURCES = [
  'plugin-status',
  'apiserver-metrics',
  'aws-kms',
  'gcp-kms',
  'event-hint',
  'webhook',
  'manual',
] as const;

/** Where a key_id observation came from. */
export type ObservationSource = (typeof OBSERVATION_SOURCES)[number];

/** A key_id seen for a KMS provider (the provider name in the EncryptionConfiguration). */
export interface Observation {
  provider: string;
  /** The key_id; empty when the source sees only its hash (`keyIdHash` then says which key). */
  keyId: string;
  /** `sha256:` hash of the key_id; set when `keyId` is empty, else derived from it. */
  keyIdHash?: string;
  /**
   * What the cloud KMS says is current (AWS material id, GCP primary version), for humans: not the
   * plugin's key_id, which rekey did not see.
   */
  kmsLabel?: string;
  source: ObservationSource;
  /** ISO 8601 time of the observation: the source's latest look (a reporter's heartbeat). */
  observedAt: string;
  /**
   * ISO 8601 time this source first saw this key_id, having seen it on every look since; absent
   * when the source cannot tell. A heartbeat says nothing about which of two key_ids came first.
   */
  firstSeenAt?: string;
}

/** The observed key's `sha256:` hash: what revisions and the convergence gate compare. */
export function observedKeyIdHash(o: Pick<Observation, 'keyId' | 'keyIdHash'>): string {
  return o.keyId !== '' ? keyIdHash(o.keyId) : (o.keyIdHash ?? '');
}

/** Since when a key_id has been seen: its first sighting where the source knows it, else the look. */
export function seenSince(o: Pick<Observation, 'observedAt' | 'firstSeenAt'>): string {
  return o.firstSeenAt ?? o.observedAt;
}

/** Whether `value` is one of {@link OBSERVATION_SOURCES}. */
export function isObservationSource(value: unknown): value is ObservationSource {
  return (OBSERVATION_SOURCES as readonly unknown[]).includes(value);
}

/**
 * The most recent observation (the first of equals), or undefined. What a key_id is now, for a
 * reader; a step that records revisions chooses differently (shared/core/choose-observation.ts).
 */
export function newestObservation<O extends Pick<Observation, 'observedAt'>>(
  observations: readonly O[],
): O | undefined {
  let newest: O | undefined;
  for (const o of observations) {
    if (!newest || Date.parse(o.observedAt) > Date.parse(newest.observedAt)) newest = o;
  }
  return newest;
}
