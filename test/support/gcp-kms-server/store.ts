// The local Cloud KMS's state and rules: key rings, ENCRYPT_DECRYPT CryptoKeys and their numbered
// versions, each with its own material. Rotation follows the real service: a new version is not
// primary until UpdateCryptoKeyPrimaryVersion (or a scheduled rotation) makes it so, and every
// ENABLED version still decrypts what it encrypted. Rule violations throw an RpcError carrying the
// gRPC code the real service answers with.
import { status } from '@grpc/grpc-js';
import { newMaterial, open, seal, versionIdOf } from './ciphertext.ts';
import {
  checkCryptoKey,
  checkId,
  checkKeyRing,
  checkLocation,
  isVersionName,
  splitVersion,
  versionName,
} from './names.ts';
import type {
  KeyRecord,
  KeyRingRecord,
  NewKeyOptions,
  SchedulePatch,
  VersionRecord,
} from './records.ts';
import { RpcError } from './rpc-error.ts';

const DAY = 86_400;
const MIN_ROTATION_SECONDS = DAY;
const MAX_ROTATION_SECONDS = 876_000 * 3600;
const DEFAULT_DESTROY_SECONDS = 30 * DAY;
const MAX_DATA_BYTES = 64 * 1024;
const MAX_PAGE_SIZE = 1000;

export interface KmsStoreOptions {
  now?: () => Date;
  /** Versions per ListCryptoKeyVersions page when the request gives no page_size. */
  defaultPageSize?: number;
}

function checkSchedule(periodSeconds: number | undefined, next: Date | undefined): void {
  if (periodSeconds === undefined) return;
  if (periodSeconds < MIN_ROTATION_SECONDS || periodSeconds > MAX_ROTATION_SECONDS) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      'rotation_period must be at least 24 hours and at most 876,000 hours.',
    );
  }
  if (!next) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      'next_rotation_time must be set if rotation_period is set.',
    );
  }
}

function checkData(field: string, data: Uint8Array): void {
  if (data.length > MAX_DATA_BYTES) {
    throw new RpcError(
      status.INVALID_ARGUMENT,
      `The ${field} must be at most ${MAX_DATA_BYTES} bytes, got ${data.length}.`,
    );
  }
}

export class KmsStore {
  readonly #rings = new Map<string, KeyRingRecord>();
  readonly #keys = new Map<string, KeyRecord>();
  readonly #now: () => Date;
  readonly #defaultPageSize: number;

  constructor({ now = () => new Date(), defaultPageSize = 25 }: KmsStoreOptions = {}) {
    this.#now = now;
    this.#defaultPageSize = defaultPageSize;
  }

  createKeyRing(parent: string, id: string): KeyRingRecord {
    const name = `${checkLocation(parent)}/keyRings/${checkId('key_ring_id', id)}`;
    if (this.#rings.has(name)) {
      throw new RpcError(status.ALREADY_EXISTS, `KeyRing ${name} already exists.`);
    }
    const ring = { name, createTime: this.#now() };
    this.#rings.set(name, ring);
    return ring;
  }

  createCryptoKey(parent: string, id: string, options: NewKeyOptions): KeyRecord {
    checkKeyRing(parent);
    if (!this.#rings.has(parent))
      throw new RpcError(status.NOT_FOUND, `KeyRing ${parent} not found.`);
    const name = `${parent}/cryptoKeys/${checkId('crypto_key_id', id)}`;
    if (this.#keys.has(name)) {
      throw new RpcError(status.ALREADY_EXISTS, `CryptoKey ${name} already exists.`);
    }
    if (options.purpose !== 'ENCRYPT_DECRYPT') {
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `purpose ${options.purpose} is not supported by the local server; use ENCRYPT_DECRYPT.`,
      );
    }
    checkSchedule(options.rotationPeriodSeconds, options.nextRotationTime);
    const key: KeyRecord = {
      name,
      purpose: 'ENCRYPT_DECRYPT',
      createTime: this.#now(),
      versions: new Map(),
      nextVersionId: 1,
      destroyScheduledSeconds: options.destroyScheduledSeconds ?? DEFAULT_DESTROY_SECONDS,
      labels: { ...options.labels },
      ...(options.rotationPeriodSeconds !== undefined
        ? { rotationPeriodSeconds: options.rotationPeriodSeconds }
        : {}),
      ...(options.nextRotationTime ? { nextRotationTime: options.nextRotationTime } : {}),
    };
    this.#keys.set(name, key);
    if (!options.skipInitialVersion) key.primaryId = this.#addVersion(key).id;
    return key;
  }

  getCryptoKey(name: string): KeyRecord {
    const key = this.#keys.get(checkCryptoKey(name));
    if (!key) throw new RpcError(status.NOT_FOUND, `CryptoKey ${name} not found.`);
    for (const v of key.versions.values()) this.#settle(v);
    return key;
  }

  getVersion(name: string): VersionRecord {
    const { key, id } = splitVersion(name);
    const version = this.getCryptoKey(key).versions.get(id);
    if (!version) throw new RpcError(status.NOT_FOUND, `CryptoKeyVersion ${name} not found.`);
    return version;
  }

  primaryOf(key: KeyRecord): VersionRecord | undefined {
    return key.primaryId === undefined ? undefined : key.versions.get(key.primaryId);
  }

  listVersions(
    parent: string,
    pageSize: number,
    pageToken: string,
  ): { versions: VersionRecord[]; nextPageToken: string; totalSize: number } {
    const all = [...this.getCryptoKey(parent).versions.values()];
    if (pageSize < 0) throw new RpcError(status.INVALID_ARGUMENT, 'page_size must be positive.');
    const size = Math.min(pageSize || this.#defaultPageSize, MAX_PAGE_SIZE);
    const start = pageToken ? decodePageToken(parent, pageToken) : 0;
    const versions = all.slice(start, start + size);
    const next = start + size < all.length ? encodePageToken(parent, start + size) : '';
    return { versions, nextPageToken: next, totalSize: all.length };
  }

  /** CreateCryptoKeyVersion: a new ENABLED version that is NOT primary. */
  createVersion(parent: string): VersionRecord {
    return this.#addVersion(this.getCryptoKey(parent));
  }

  /** UpdateCryptoKeyPrimaryVersion. */
  setPrimary(name: string, versionId: string): KeyRecord {
    const key = this.getCryptoKey(name);
    const version = /^[0-9]+$/.test(versionId) ? key.versions.get(Number(versionId)) : undefined;
    if (!version) {
      throw new RpcError(
        status.NOT_FOUND,
        `CryptoKeyVersion ${versionName(name, Number(versionId))} not found.`,
      );
    }
    if (version.state !== 'ENABLED') {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `CryptoKeyVersion ${version.name} is not enabled, current state is: ${version.state}.`,
      );
    }
    key.primaryId = version.id;
    return key;
  }

  /** The rotation-schedule part of UpdateCryptoKey. */
  updateSchedule(name: string, patch: SchedulePatch): KeyRecord {
    const key = this.getCryptoKey(name);
    const period =
      patch.rotationPeriodSeconds === undefined
        ? key.rotationPeriodSeconds
        : (patch.rotationPeriodSeconds ?? undefined);
    const next =
      patch.nextRotationTime === undefined
        ? key.nextRotationTime
        : (patch.nextRotationTime ?? undefined);
    checkSchedule(period, next);
    if (period === undefined) delete key.rotationPeriodSeconds;
    else key.rotationPeriodSeconds = period;
    if (next === undefined) delete key.nextRotationTime;
    else key.nextRotationTime = next;
    return key;
  }

  /** DestroyCryptoKeyVersion: DESTROY_SCHEDULED until destroy_time, then DESTROYED. */
  destroyVersion(name: string): VersionRecord {
    const version = this.getVersion(name);
    if (version.state !== 'ENABLED' && version.state !== 'DISABLED') {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `CryptoKeyVersion ${name} is not enabled or disabled, current state is: ${version.state}.`,
      );
    }
    const key = this.getCryptoKey(splitVersion(name).key);
    version.state = 'DESTROY_SCHEDULED';
    version.destroyTime = new Date(this.#now().getTime() + key.destroyScheduledSeconds * 1000);
    return version;
  }

  /** What the service does at next_rotation_time: a new version, made primary, schedule advanced. */
  rotateOnSchedule(name: string): VersionRecord {
    const key = this.getCryptoKey(name);
    const version = this.#addVersion(key);
    key.primaryId = version.id;
    if (key.nextRotationTime && key.rotationPeriodSeconds !== undefined) {
      const next = key.nextRotationTime.getTime() + key.rotationPeriodSeconds * 1000;
      key.nextRotationTime = new Date(next);
    }
    return version;
  }

  /** Encrypt with the primary (a CryptoKey name) or with the named version. */
  encrypt(
    name: string,
    plaintext: Uint8Array,
    aad: Uint8Array,
  ): { version: VersionRecord; ciphertext: Buffer } {
    checkData('plaintext', plaintext);
    checkData('additional_authenticated_data', aad);
    let keyName: string;
    let version: VersionRecord | undefined;
    if (isVersionName(name)) {
      keyName = splitVersion(name).key;
      version = this.getVersion(name);
    } else {
      keyName = name;
      const key = this.getCryptoKey(name);
      version = this.primaryOf(key);
      if (!version) {
        throw new RpcError(status.FAILED_PRECONDITION, `CryptoKey ${name} has no primary version.`);
      }
    }
    const material = this.#usable(version);
    return { version, ciphertext: seal(material, keyName, version.id, plaintext, aad) };
  }

  /** Decrypt under whichever version the ciphertext names, if that version is still ENABLED. */
  decrypt(
    name: string,
    ciphertext: Uint8Array,
    aad: Uint8Array,
  ): { plaintext: Buffer; usedPrimary: boolean } {
    if (isVersionName(name)) {
      throw new RpcError(
        status.INVALID_ARGUMENT,
        `Decrypt takes a CryptoKey name, not a CryptoKeyVersion: ${name}.`,
      );
    }
    const key = this.getCryptoKey(name);
    checkData('additional_authenticated_data', aad);
    const id = versionIdOf(ciphertext);
    const version = id === undefined ? undefined : key.versions.get(id);
    if (!version) throw invalidCiphertext();
    const plaintext = open(this.#usable(version), key.name, ciphertext, aad);
    if (!plaintext) throw invalidCiphertext();
    return { plaintext, usedPrimary: key.primaryId === version.id };
  }

  #addVersion(key: KeyRecord): VersionRecord {
    const id = key.nextVersionId++;
    const now = this.#now();
    const version: VersionRecord = {
      name: versionName(key.name, id),
      id,
      state: 'ENABLED',
      createTime: now,
      generateTime: now,
      material: newMaterial(),
    };
    key.versions.set(id, version);
    return version;
  }

  #usable(version: VersionRecord): Buffer {
    this.#settle(version);
    if (version.state !== 'ENABLED' || !version.material) {
      throw new RpcError(
        status.FAILED_PRECONDITION,
        `CryptoKeyVersion ${version.name} is not enabled, current state is: ${version.state}.`,
      );
    }
    return version.material;
  }

  /** A scheduled destruction that is due happens now (the material is gone for good). */
  #settle(version: VersionRecord): void {
    if (version.state !== 'DESTROY_SCHEDULED' || !version.destroyTime) return;
    const now = this.#now();
    if (now < version.destroyTime) return;
    version.state = 'DESTROYED';
    version.destroyEventTime = now;
    delete version.material;
  }
}

function invalidCiphertext(): RpcError {
  return new RpcError(status.INVALID_ARGUMENT, 'Decryption failed: the ciphertext is invalid.');
}

function encodePageToken(parent: string, offset: number): string {
  return Buffer.from(JSON.stringify([parent, offset])).toString('base64url');
}

function decodePageToken(parent: string, token: string): number {
  try {
    const value: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(value) && value[0] === parent && Number.isSafeInteger(value[1])) {
      return value[1] as number;
    }
  } catch {
    // falls through to the same answer as a token for another parent
  }
  throw new RpcError(status.INVALID_ARGUMENT, `Invalid page_token: ${token}`);
}
