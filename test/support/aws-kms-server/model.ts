// The local KMS's keys and their rotation semantics, as AWS has them: a key ARN that never changes,
// 64-hex material ids, on-demand rotation that completes only after a delay (applied lazily, on the
// next look at the key, against an injectable clock), and every earlier material kept for Decrypt.
import { randomBytes, randomUUID } from 'node:crypto';
import { type KmsRotationEvent, type RotationType, rotationEvent } from './rotation-event.ts';
import { KmsFault } from './wire.ts';

export const MAX_ON_DEMAND_ROTATIONS = 25;
const DAY_MS = 86_400_000;

export interface Rotation {
  materialId: string;
  dateMs: number;
  type: RotationType;
}

export interface KeyRecord {
  keyId: string;
  arn: string;
  createdMs: number;
  description: string;
  keyState: 'Enabled' | 'Disabled' | 'PendingDeletion';
  deletionMs?: number;
  /** Every material the key ever had, by id: old ones still decrypt. */
  materials: Map<string, Buffer>;
  originalMaterialId: string;
  currentMaterialId: string;
  rotations: Rotation[];
  rotationEnabled: boolean;
  rotationPeriodInDays: number;
  nextRotationMs?: number;
  pending?: { startedMs: number; dueMs: number };
  lastEvent?: KmsRotationEvent;
}

export interface KmsModelOptions {
  region: string;
  account: string;
  /** How long after RotateKeyOnDemand the new material becomes current. */
  rotationDelayMs: number;
  now: () => number;
}

function newMaterialId(): string {
  return randomBytes(32).toString('hex');
}

export class KmsModel {
  readonly options: KmsModelOptions;
  private readonly keys = new Map<string, KeyRecord>();
  private readonly aliases = new Map<string, string>();

  constructor(options: KmsModelOptions) {
    this.options = options;
  }

  createKey(description: string): KeyRecord {
    const keyId = randomUUID();
    const materialId = newMaterialId();
    const { region, account, now } = this.options;
    const key: KeyRecord = {
      keyId,
      arn: `arn:aws:kms:${region}:${account}:key/${keyId}`,
      createdMs: now(),
      description,
      keyState: 'Enabled',
      materials: new Map([[materialId, randomBytes(32)]]),
      originalMaterialId: materialId,
      currentMaterialId: materialId,
      rotations: [],
      rotationEnabled: false,
      rotationPeriodInDays: 365,
    };
    this.keys.set(keyId, key);
    return key;
  }

  createAlias(aliasName: string, targetKeyId: string): void {
    if (!aliasName.startsWith('alias/') || aliasName.startsWith('alias/aws/')) {
      throw new KmsFault('InvalidAliasNameException', `Invalid alias name ${aliasName}`);
    }
    if (this.aliases.has(aliasName)) {
      throw new KmsFault(
        'AlreadyExistsException',
        `An alias with the name ${aliasName} already exists`,
      );
    }
    this.aliases.set(aliasName, this.find(targetKeyId).keyId);
  }

  /** A key by id, key ARN, alias name or alias ARN, with any due rotation applied. */
  find(ref: string): KeyRecord {
    const { region, account } = this.options;
    const prefix = `arn:aws:kms:${region}:${account}:`;
    let id = ref.startsWith(prefix) ? ref.slice(prefix.length) : ref;
    if (id.startsWith('key/')) id = id.slice('key/'.length);
    if (id.startsWith('alias/')) id = this.aliases.get(id) ?? id;
    const key = this.keys.get(id);
    if (!key) throw new KmsFault('NotFoundException', `Key '${ref}' does not exist`);
    this.settle(key);
    return key;
  }

  /** Like `find`, for operations that need the key enabled (Encrypt, RotateKeyOnDemand, …). */
  findUsable(ref: string): KeyRecord {
    const key = this.find(ref);
    if (key.keyState === 'Disabled')
      throw new KmsFault('DisabledException', `${key.arn} is disabled.`);
    if (key.keyState === 'PendingDeletion') {
      throw new KmsFault('KMSInvalidStateException', `${key.arn} is pending deletion.`);
    }
    return key;
  }

  startOnDemandRotation(key: KeyRecord): void {
    if (key.pending) {
      throw new KmsFault(
        'ConflictException',
        `An on-demand rotation of ${key.arn} is in progress.`,
      );
    }
    const used = key.rotations.filter((r) => r.type === 'ON_DEMAND').length;
    if (used >= MAX_ON_DEMAND_ROTATIONS) {
      throw new KmsFault(
        'LimitExceededException',
        `${key.arn} reached the limit of ${MAX_ON_DEMAND_ROTATIONS} on-demand rotations.`,
      );
    }
    const startedMs = this.options.now();
    key.pending = { startedMs, dueMs: startedMs + this.options.rotationDelayMs };
  }

  /** Completes a rotation at once (test support: what an AUTOMATIC rotation does at AWS). */
  rotate(key: KeyRecord, type: RotationType, atMs = this.options.now()): KmsRotationEvent {
    const previous = key.currentMaterialId;
    const materialId = newMaterialId();
    key.materials.set(materialId, randomBytes(32));
    key.currentMaterialId = materialId;
    key.rotations.push({ materialId, dateMs: atMs, type });
    if (type === 'AUTOMATIC' && key.rotationEnabled) {
      key.nextRotationMs = atMs + key.rotationPeriodInDays * DAY_MS;
    }
    const { region, account } = this.options;
    key.lastEvent = rotationEvent({
      account,
      region,
      keyArn: key.arn,
      keyId: key.keyId,
      origin: 'AWS_KMS',
      type,
      previousMaterialId: previous,
      currentMaterialId: materialId,
      atMs,
    });
    return key.lastEvent;
  }

  enableRotation(key: KeyRecord, periodInDays: number): void {
    key.rotationEnabled = true;
    key.rotationPeriodInDays = periodInDays;
    key.nextRotationMs = this.options.now() + periodInDays * DAY_MS;
  }

  disableRotation(key: KeyRecord): void {
    key.rotationEnabled = false;
    delete key.nextRotationMs;
  }

  private settle(key: KeyRecord): void {
    if (key.pending && this.options.now() >= key.pending.dueMs) {
      const { dueMs } = key.pending;
      delete key.pending;
      this.rotate(key, 'ON_DEMAND', dueMs);
    }
  }
}
