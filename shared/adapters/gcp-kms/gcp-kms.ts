// rekey's view of a Cloud KMS CryptoKey through @google-cloud/kms: which version is primary (the
// key_id Google's KMS plugin reports), its versions, a rotation made now (a new version, then made
// primary), the rotation schedule, and Encrypt/Decrypt for the sandbox plugin's gcp backend.
// Every SDK error leaves as a GcpKmsTransientError or GcpKmsPermanentError (errors.ts).
import type { KeyManagementServiceClient } from '@google-cloud/kms';
import { createKmsClient, type GcpKmsClientOptions } from './client.ts';
import { durationSeconds, splitVersionName, timestampIso, toTimestamp } from './convert.ts';
import { GcpKmsPermanentError, toGcpKmsError } from './errors.ts';

export interface GcpKeyInfo {
  /** `projects/p/locations/l/keyRings/r/cryptoKeys/k` */
  name: string;
  /** Full CryptoKeyVersion name of the primary: the key_id Google's KMS plugin reports. */
  primaryVersion: string;
  /** `ENABLED`, or another state that makes Encrypt fail. */
  primaryState: string;
  rotationPeriodSeconds?: number;
  /** ISO 8601. */
  nextRotationTime?: string;
}

export interface GcpKeyVersion {
  /** Full CryptoKeyVersion name. */
  name: string;
  /** The `N` of `.../cryptoKeyVersions/N`. */
  versionId: string;
  /** `ENABLED`, `DISABLED`, `DESTROY_SCHEDULED`, `DESTROYED`, ... */
  state: string;
  createTime?: string;
}

/** Both unset: no automatic rotation. */
export interface GcpRotationSchedule {
  rotationPeriodSeconds?: number;
  /** ISO 8601. */
  nextRotationTime?: string;
}

export interface GcpKms {
  /** The key and its primary version. Permanent error if the key has no primary. */
  getKey(name: string): Promise<GcpKeyInfo>;
  /** Every version, in the service's order, fetched page by page. */
  listVersions(name: string, options?: { pageSize?: number }): Promise<GcpKeyVersion[]>;
  /**
   * Rotates now: CreateCryptoKeyVersion, then UpdateCryptoKeyPrimaryVersion to it. Resolves with
   * the new primary's full name. Not atomic: if the second call fails, the new version exists but
   * is not primary, and calling again creates another one.
   */
  rotateNow(name: string): Promise<string>;
  rotationSchedule(name: string): Promise<GcpRotationSchedule>;
  /** Replaces the schedule (a field left out is cleared); resolves with the stored schedule. */
  setRotationSchedule(name: string, schedule: GcpRotationSchedule): Promise<GcpRotationSchedule>;
  /** Encrypts with the primary; `keyVersion` is the version the service used. */
  encrypt(
    name: string,
    plaintext: Uint8Array,
    options?: { aad?: Uint8Array },
  ): Promise<{ ciphertext: Uint8Array; keyVersion: string }>;
  /** Decrypts under whichever version made the ciphertext, while that version is ENABLED. */
  decrypt(
    name: string,
    ciphertext: Uint8Array,
    options?: { aad?: Uint8Array },
  ): Promise<{ plaintext: Uint8Array; usedPrimary: boolean }>;
  /** Closes the client this adapter built (an injected client stays open). */
  close(): Promise<void>;
}

export interface GcpKmsOptions extends GcpKmsClientOptions {
  /** Deadline per call, including google-gax's own retries of idempotent calls; default 30 s. */
  timeoutMs?: number;
  /** A client to use instead of building one from the endpoint options. */
  client?: KeyManagementServiceClient;
}

/**
 * @example
 * // production: ADC / Workload Identity, cloudkms.googleapis.com
 * const kms = createGcpKms();
 * // a local endpoint (the test server): plaintext gRPC, no token
 * const local = createGcpKms({ apiEndpoint: '127.0.0.1', port, sslCreds: grpc.credentials.createInsecure() });
 * const { primaryVersion } = await kms.getKey('projects/p/locations/l/keyRings/r/cryptoKeys/k');
 */
export function createGcpKms({
  timeoutMs = 30_000,
  client,
  ...clientOptions
}: GcpKmsOptions = {}): GcpKms {
  const kms = client ?? createKmsClient(clientOptions);
  const call = { timeout: timeoutMs };

  async function run<T>(operation: string, resource: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw toGcpKmsError(err, operation, resource);
    }
  }

  function schedule(key: {
    rotationPeriod?: Parameters<typeof durationSeconds>[0];
    nextRotationTime?: Parameters<typeof timestampIso>[0];
  }): GcpRotationSchedule {
    const rotationPeriodSeconds = durationSeconds(key.rotationPeriod);
    const nextRotationTime = timestampIso(key.nextRotationTime);
    return {
      ...(rotationPeriodSeconds !== undefined ? { rotationPeriodSeconds } : {}),
      ...(nextRotationTime ? { nextRotationTime } : {}),
    };
  }

  return {
    getKey(name) {
      return run('GetCryptoKey', name, async () => {
        const [key] = await kms.getCryptoKey({ name }, call);
        const primary = key.primary?.name;
        if (!primary) {
          throw new GcpKmsPermanentError(
            `Cloud KMS GetCryptoKey ${name}: no primary version (purpose must be ENCRYPT_DECRYPT)`,
            { code: 'FAILED_PRECONDITION', operation: 'GetCryptoKey', resource: name },
          );
        }
        return {
          name: key.name ?? name,
          primaryVersion: primary,
          primaryState: String(key.primary?.state ?? 'CRYPTO_KEY_VERSION_STATE_UNSPECIFIED'),
          ...schedule(key),
        };
      });
    },

    listVersions(name, { pageSize } = {}) {
      return run('ListCryptoKeyVersions', name, async () => {
        const versions: GcpKeyVersion[] = [];
        const pages = kms.listCryptoKeyVersionsAsync(
          { parent: name, ...(pageSize ? { pageSize } : {}) },
          { ...call, autoPaginate: false },
        );
        for await (const v of pages) {
          const full = v.name ?? '';
          const createTime = timestampIso(v.createTime);
          versions.push({
            name: full,
            versionId: splitVersionName(full)?.versionId ?? '',
            state: String(v.state ?? 'CRYPTO_KEY_VERSION_STATE_UNSPECIFIED'),
            ...(createTime ? { createTime } : {}),
          });
        }
        return versions;
      });
    },

    async rotateNow(name) {
      const created = await run('CreateCryptoKeyVersion', name, async () => {
        const [version] = await kms.createCryptoKeyVersion(
          { parent: name, cryptoKeyVersion: {} },
          call,
        );
        return version.name ?? '';
      });
      const versionId = splitVersionName(created)?.versionId;
      if (!versionId) {
        throw new GcpKmsPermanentError(
          `Cloud KMS CreateCryptoKeyVersion ${name}: unexpected version name "${created}"`,
          { code: 'INTERNAL', operation: 'CreateCryptoKeyVersion', resource: name },
        );
      }
      return run('UpdateCryptoKeyPrimaryVersion', name, async () => {
        const [key] = await kms.updateCryptoKeyPrimaryVersion(
          { name, cryptoKeyVersionId: versionId },
          call,
        );
        return key.primary?.name ?? created;
      });
    },

    rotationSchedule(name) {
      return run('GetCryptoKey', name, async () => {
        const [key] = await kms.getCryptoKey({ name }, call);
        return schedule(key);
      });
    },

    setRotationSchedule(name, { rotationPeriodSeconds, nextRotationTime }) {
      return run('UpdateCryptoKey', name, async () => {
        const [key] = await kms.updateCryptoKey(
          {
            cryptoKey: {
              name,
              ...(rotationPeriodSeconds !== undefined
                ? { rotationPeriod: { seconds: rotationPeriodSeconds } }
                : {}),
              ...(nextRotationTime ? { nextRotationTime: toTimestamp(nextRotationTime) } : {}),
            },
            updateMask: { paths: ['rotation_period', 'next_rotation_time'] },
          },
          call,
        );
        return schedule(key);
      });
    },

    encrypt(name, plaintext, { aad } = {}) {
      return run('Encrypt', name, async () => {
        const [response] = await kms.encrypt(
          { name, plaintext, ...(aad ? { additionalAuthenticatedData: aad } : {}) },
          call,
        );
        if (!response.name || !response.ciphertext) {
          throw new Error('Encrypt response without name or ciphertext');
        }
        return { ciphertext: bytes(response.ciphertext), keyVersion: response.name };
      });
    },

    decrypt(name, ciphertext, { aad } = {}) {
      return run('Decrypt', name, async () => {
        const [response] = await kms.decrypt(
          { name, ciphertext, ...(aad ? { additionalAuthenticatedData: aad } : {}) },
          call,
        );
        return {
          plaintext: bytes(response.plaintext ?? new Uint8Array()),
          usedPrimary: response.usedPrimary === true,
        };
      });
    },

    async close() {
      if (!client) await kms.close();
    },
  };
}

/** `bytes` fields arrive as Buffer (or, in proto3 JSON paths, base64 text). */
function bytes(value: Uint8Array | string): Uint8Array {
  return typeof value === 'string' ? Buffer.from(value, 'base64') : value;
}
