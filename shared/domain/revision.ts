// Revisions: the numbered, immutable record of one key_id for one KMS provider
// (docs/architecture.md R2, "Observations and revisions"), their names, and the plan for recording
// a new observation. The domain only plans; the store's create-if-absent on the name decides races
// between concurrent creators.

import { createHash } from 'node:crypto';
import type { ConvergenceVia } from './convergence.ts';
import { InvalidProviderNameError, InvalidRevisionNumberError } from './errors.ts';
import type { KmsRotationNote } from './kms-rotation.ts';
import { emptyProgress, type MigrationProgress } from './migration-progress.ts';
import {
  type Observation,
  type ObservationSource,
  observedKeyIdHash,
  seenSince,
} from './observation.ts';
import type { Phase } from './phase.ts';
import type { RetrySchedule } from './retry-schedule.ts';
import type { VerificationResult } from './verification.ts';

export type { Observation, ObservationSource } from './observation.ts';

/** The last convergence verdict recorded on a revision. */
export interface RevisionConvergence {
  converged: boolean;
  via: ConvergenceVia;
  pending: string[];
  reason: string;
  checkedAt: string;
}

/** One key_id of one provider, with the state of its migration. Times are ISO 8601. */
export interface Revision {
  /** The provider name in the EncryptionConfiguration, verbatim. */
  provider: string;
  number: number;
  /** `encryption-key-<provider segment>-<number>`: the idempotency key. */
  name: string;
  /**
   * The key_id; empty when only its hash was observed (the apiservers' metrics, on a hosted
   * control plane): then `keyIdHash` alone names the key, and shows wherever a key_id would.
   */
  keyId: string;
  /** `sha256:` + hex: the only form of the key_id that goes into events and logs. */
  keyIdHash: string;
  source: ObservationSource;
  /** What the cloud KMS said was current when this was recorded, for humans (not the key_id). */
  kmsLabel?: string;
  observedAt: string;
  phase: Phase;
  createdAt: string;
  updatedAt?: string;
  progress: MigrationProgress;
  lastError?: string;
  verification?: VerificationResult;
  convergence?: RevisionConvergence;
  /** Recorded by an explicit forced rewrite of an unchanged key_id (docs/architecture.md R9). */
  forced?: boolean;
  /** The last rotation the KMS itself reported while this revision was newest, and what it meant. */
  kmsRotation?: KmsRotationNote;
  /**
   * The KMS said the key is being deleted, destroyed, disabled or expiring while it may still
   * protect data: the newest such danger, the earlier ones in its `earlier` (key-danger.ts).
   */
  keyDanger?: KeyDangerNote;
  /**
   * When refused or offending objects are re-patched next (docs/architecture.md R13): set once the
   * revision is Degraded for objects, cleared when it completes.
   */
  retry?: RetrySchedule;
  /**
   * When a step found the convergence gate closed again after the migration had started (an
   * apiserver back on an older key_id): set while waiting, cleared when the migration starts its
   * pass over every resource again (docs/architecture.md "Phases").
   */
  regressedAt?: string;
}

/** A danger to the key behind a revision, as the KMS reported it (a status condition for people). */
export interface KeyDangerNote {
  key: string;
  what: string;
  at: string;
  via: string;
  /** The key version (or material) in danger, when the event named one. */
  version?: string;
  /** Set when the KMS said the danger is over: it stays for history, but raises nothing. */
  cleared?: KeyDangerClearance;
  /** Earlier dangers noted on the same revision, newest first (each without its own `earlier`). */
  earlier?: KeyDangerNote[];
}

/** The KMS event that ended a danger. */
export interface KeyDangerClearance {
  at: string;
  via: string;
  /** The call that ended it, e.g. `CancelKeyDeletion`. */
  by: string;
}

/** The fixed start of every revision name. */
export const REVISION_NAME_PREFIX = 'encryption-key-';

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_VERBATIM = 200;

/** Whether `name` is a valid Kubernetes object name (DNS-1123 subdomain). */
export function isDnsSubdomain(name: string): boolean {
  return name.length <= 253 && DNS_SUBDOMAIN.test(name);
}

/**
 * The provider's part of a revision name. A provider name that already fits a DNS-1123 subdomain
 * is used verbatim. Otherwise (EncryptionConfiguration allows e.g. upper case and `_`) it is
 * lowercased, every run of other characters becomes `-`, it is cut to 40 characters, and the first
 * 8 hex digits of sha256(provider) are appended, so that `AWS_kms` and `aws-kms` cannot collide.
 * The exact provider name is always kept in the revision itself.
 *
 * @throws InvalidProviderNameError for an empty or blank provider name.
 */
export function providerSegment(provider: string): string {
  if (provider.trim() === '') throw new InvalidProviderNameError('provider name is empty');
  if (provider.length <= MAX_VERBATIM && isDnsSubdomain(`${REVISION_NAME_PREFIX}${provider}-1`)) {
    return provider;
  }
  const cleaned = provider
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 40)
    .replace(/^-+|-+$/g, '');
  const digest = createHash('sha256').update(provider, 'utf8').digest('hex').slice(0, 8);
  return cleaned ? `${cleaned}-${digest}` : digest;
}

/**
 * The name of revision `n` of `provider`: `encryption-key-<provider segment>-<n>`.
 *
 * @example revisionName('aws-kms', 3) // 'encryption-key-aws-kms-3'
 * @throws InvalidProviderNameError, InvalidRevisionNumberError
 */
export function revisionName(provider: string, n: number): string {
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidRevisionNumberError(`revision number must be a positive integer, got ${n}`);
  }
  return `${REVISION_NAME_PREFIX}${providerSegment(provider)}-${n}`;
}

/** The provider segment and number of a revision name, or undefined if it is not one. */
export function parseRevisionName(
  name: string,
): { providerSegment: string; number: number } | undefined {
  if (!isDnsSubdomain(name)) return undefined;
  const m = /^encryption-key-(.+)-([1-9][0-9]{0,15})$/.exec(name);
  const [, segment, digits] = m ?? [];
  if (segment === undefined || digits === undefined) return undefined;
  const number = Number(digits);
  return Number.isSafeInteger(number) ? { providerSegment: segment, number } : undefined;
}

/** What to do with an observation: it is recorded already, it needs a new revision, or it is late. */
export type RevisionPlan =
  | { action: 'exists'; revision: Revision }
  | { action: 'create'; number: number; name: string; forced?: true; warning?: string }
  | { action: 'ignore'; newest: Revision; reason: string };

/**
 * Plans the revision for an observed key_id, given the provider's existing revisions.
 * - The newest revision has this key_id: `exists` (idempotent).
 * - Another key_id: `create` number newest+1 (1 for the first). If an older revision had this
 *   key_id (a rollback: an operator backing out a suspect key), still `create`, with a `warning`:
 *   the migration moves everything back to it.
 * - Another key_id first seen before the newest revision's observation: `ignore` (a late or
 *   reordered report must not roll the provider back, and of two new key_ids the older must not
 *   follow the newer) unless `agreed`: every fresh, healthy report says this key_id now
 *   (shared/core/choose-observation.ts), so it is what the cluster writes with, whatever came first.
 * - `force`: a forced rewrite of the newest key_id gets a new revision marked `forced`, unless a
 *   forced one for that key_id is still in flight (then `exists`).
 */
export function planRevision(
  existing: readonly Revision[],
  observation: Observation,
  { force = false, agreed = false }: { force?: boolean; agreed?: boolean } = {},
): RevisionPlan {
  const mine = existing
    .filter((r) => r.provider === observation.provider)
    .sort((a, b) => b.number - a.number);
  const newest = mine[0];
  const number = (newest?.number ?? 0) + 1;
  const name = revisionName(observation.provider, number);
  if (!newest) return { action: 'create', number, name };
  // compared by hash: a revision recorded from metrics alone knows no more of its key
  const hash = observedKeyIdHash(observation);
  if (newest.keyIdHash === hash) {
    if (!force || (newest.forced && newest.phase !== 'Completed')) {
      return { action: 'exists', revision: newest };
    }
    return { action: 'create', number, name, forced: true };
  }
  const since = seenSince(observation);
  if (!agreed && Date.parse(since) < Date.parse(newest.observedAt)) {
    const seen = observation.firstSeenAt === undefined ? 'observed' : 'first seen';
    return {
      action: 'ignore',
      newest,
      reason: `${seen} at ${since}, before ${newest.name} (${newest.observedAt}): a late report`,
    };
  }
  const older = mine.find((r) => r.keyIdHash === hash);
  if (!older) return { action: 'create', number, name };
  return {
    action: 'create',
    number,
    name,
    warning:
      `provider "${observation.provider}" went back to key ${hash} of ` +
      `${older.name} (a rollback; KEP 3299 forbids reusing key_ids): recorded as ${name}, and ` +
      'everything migrates back to it',
  };
}

/** A freshly observed revision, as `create` plans it. */
export function newRevision({
  observation,
  number,
  now,
  forced = false,
}: {
  observation: Observation;
  number: number;
  now: string;
  forced?: boolean;
}): Revision {
  const revision: Revision = {
    provider: observation.provider,
    number,
    name: revisionName(observation.provider, number),
    keyId: observation.keyId,
    keyIdHash: observedKeyIdHash(observation),
    source: observation.source,
    // since when the key_id is in use: what a later report of another key_id is compared with
    observedAt: seenSince(observation),
    phase: 'Observed',
    createdAt: now,
    progress: emptyProgress(),
  };
  if (forced) revision.forced = true;
  if (observation.kmsLabel) revision.kmsLabel = observation.kmsLabel;
  return revision;
}

/** The item with the highest revision number (the one rekey acts on), if any. */
export function newestOf<T>(items: readonly T[], numberOf: (item: T) => number): T | undefined {
  let newest: T | undefined;
  for (const item of items) if (!newest || numberOf(item) > numberOf(newest)) newest = item;
  return newest;
}

/** The revision with the highest number, if any. */
export function newestRevision<R extends Pick<Revision, 'number'>>(
  revisions: readonly R[],
): R | undefined {
  return newestOf(revisions, (r) => r.number);
}
