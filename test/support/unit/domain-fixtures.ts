// Builders for domain values in unit tests: a valid default, overridden field by field.

import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { emptyCounts, type MigrationCounts } from '../../../shared/domain/migration-counts.ts';
import { emptyProgress } from '../../../shared/domain/migration-progress.ts';
import { type Revision, revisionName } from '../../../shared/domain/revision.ts';

/** A revision of provider `p` (default) with key `k<number>`, observed at minute `number`. */
export function rev(overrides: Partial<Revision> & { number: number }): Revision {
  const provider = overrides.provider ?? 'p';
  const keyId = overrides.keyId ?? `k${overrides.number}`;
  return {
    provider,
    name: revisionName(provider, overrides.number),
    keyId,
    keyIdHash: keyIdHash(keyId),
    source: 'plugin-status',
    observedAt: minute(overrides.number),
    phase: 'Observed',
    createdAt: minute(overrides.number),
    progress: emptyProgress(),
    ...overrides,
  };
}

/** `2025-01-01T00:<m>:00.000Z`: distinct, ordered times. */
export function minute(m: number): string {
  return new Date(Date.UTC(2025, 0, 1, 0, m)).toISOString();
}

/** Counts with the given fields set. */
export function counts(fields: Partial<MigrationCounts> = {}): MigrationCounts {
  return { ...emptyCounts(), ...fields };
}
