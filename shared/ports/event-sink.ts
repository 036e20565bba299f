// Port: the events rekey emits, as CloudEvents to K_SINK and optionally as signed outgoing webhooks
// (docs/architecture.md, "Events"). The vocabulary is declared once, here: every type rekey emits
// with the data it carries, so an emitter cannot send a type or a shape that no consumer knows.

import type { MigrationCounts } from '../domain/migration-counts.ts';

/** The prefix every type has on the wire: `dev.rekey.<type>`. */
export const REKEY_TYPE_PREFIX = 'dev.rekey.';

/** What the events about one revision carry: identities and counts, never a key_id or a secret. */
export type RevisionEventData = {
  provider: string;
  revision: string;
  keyIdHash: string;
  counts?: MigrationCounts;
  reason?: string;
};

/** A continuation: the migration of `revision` has work right now, so run the next step at once. */
export type MigrationSliceData = RevisionEventData & { counts: MigrationCounts };

/**
 * The cloud key behind a provider is being deleted, destroyed or expiring: every object of the
 * provider is wrapped under it. `key` names the key (an ARN or resource name), never material.
 */
export type KeyDangerData = {
  provider: string;
  /** The newest revision, when the provider has one. */
  revision?: string;
  keyIdHash?: string;
  what: string;
  key: string;
  at: string;
};

/** A trigger function asks the reconcile function for a step (REKEY_STEP_MODE=delegate). */
export type StepRequestedData = {
  provider: string;
  /** The function that asks: `kms-event`, `cluster-event` or `webhook`. */
  requestedBy: string;
};

/** Every event type (without {@link REKEY_TYPE_PREFIX}) and the data it carries. */
export interface RekeyEvents {
  'revision.created': RevisionEventData;
  'migration.slice': MigrationSliceData;
  'migration.completed': RevisionEventData;
  'migration.degraded': RevisionEventData;
  'verification.completed': RevisionEventData;
  'key.danger': KeyDangerData;
  'step.requested': StepRequestedData;
}

/** One of the types rekey emits. */
export type RekeyEventType = keyof RekeyEvents;

/** The data of events of type `T` (of any event when `T` is left out). */
export type RekeyEventData<T extends RekeyEventType = RekeyEventType> = RekeyEvents[T];

/** One event: its type with the data of that type. */
export type RekeyEvent = {
  [T in RekeyEventType]: { type: T; data: RekeyEvents[T] };
}[RekeyEventType];

// a record, so that adding a type to RekeyEvents without listing it here does not compile
const TYPES: Record<RekeyEventType, true> = {
  'revision.created': true,
  'migration.slice': true,
  'migration.completed': true,
  'migration.degraded': true,
  'verification.completed': true,
  'key.danger': true,
  'step.requested': true,
};

/** Every type, for the checks made at run time (a sink refusing an unknown type). */
export const REKEY_EVENT_TYPES: readonly RekeyEventType[] = Object.keys(TYPES) as RekeyEventType[];

/** True for a type of the vocabulary. */
export function isRekeyEventType(type: string): type is RekeyEventType {
  return Object.hasOwn(TYPES, type);
}

/**
 * The type as it travels, e.g. `dev.rekey.migration.slice` (what a consumer filters on).
 *
 * @example rekeyType('step.requested') // 'dev.rekey.step.requested'
 */
export function rekeyType<T extends RekeyEventType>(type: T): `dev.rekey.${T}` {
  return `${REKEY_TYPE_PREFIX}${type}` as `dev.rekey.${T}`;
}

/**
 * Emits events. Guarantees: delivery to the sink is attempted once per call and failures reject
 * (the caller decides); the data is sent as given, so callers put no secret in it.
 */
export interface EventSink {
  emit<T extends RekeyEventType>(type: T, data: RekeyEvents[T]): Promise<void>;
}
