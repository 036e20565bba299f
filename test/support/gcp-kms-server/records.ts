// The local Cloud KMS's records: what the store keeps for key rings, CryptoKeys and versions.

export type VersionState = 'ENABLED' | 'DISABLED' | 'DESTROY_SCHEDULED' | 'DESTROYED';

export interface VersionRecord {
  readonly name: string;
  readonly id: number;
  state: VersionState;
  readonly createTime: Date;
  readonly generateTime: Date;
  destroyTime?: Date;
  destroyEventTime?: Date;
  material?: Buffer;
}

export interface KeyRecord {
  readonly name: string;
  readonly purpose: 'ENCRYPT_DECRYPT';
  readonly createTime: Date;
  primaryId?: number;
  readonly versions: Map<number, VersionRecord>;
  nextVersionId: number;
  rotationPeriodSeconds?: number;
  nextRotationTime?: Date;
  readonly destroyScheduledSeconds: number;
  labels: Record<string, string>;
}

export interface KeyRingRecord {
  readonly name: string;
  readonly createTime: Date;
}

/** A schedule change: undefined leaves a field as it is, null clears it. */
export interface SchedulePatch {
  rotationPeriodSeconds?: number | null;
  nextRotationTime?: Date | null;
}

export interface NewKeyOptions {
  purpose: string;
  rotationPeriodSeconds?: number;
  nextRotationTime?: Date;
  destroyScheduledSeconds?: number;
  skipInitialVersion?: boolean;
  labels?: Record<string, string>;
}
