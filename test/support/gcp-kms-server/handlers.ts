// google.cloud.kms.v1.KeyManagementService handlers over the KmsStore: wire in, rules in the store,
// wire out. Every change is written to the audit log the way Cloud Audit Logs would record it.
// Methods not listed here are answered UNIMPLEMENTED by grpc-js itself.
import * as grpc from '@grpc/grpc-js';
import type { AuditRecord } from './audit-log.ts';
import type {
  CreateCryptoKeyRequestWire,
  CreateCryptoKeyVersionRequestWire,
  CreateKeyRingRequestWire,
  DecryptRequestWire,
  EncryptRequestWire,
  ListCryptoKeyVersionsRequestWire,
  NameRequestWire,
  UpdateCryptoKeyPrimaryVersionRequestWire,
  UpdateCryptoKeyRequestWire,
} from './proto.ts';
import {
  cryptoKeyJson,
  cryptoKeyWire,
  timestampWire,
  typed,
  versionJson,
  versionWire,
  wireDate,
  wireSeconds,
} from './render.ts';
import { RpcError } from './rpc-error.ts';
import type { KmsStore } from './store.ts';
import { parseCryptoKeyUpdate } from './update-mask.ts';

/** A method the server was asked to run, with the resource it named (side effects as data). */
export interface CallRecord {
  method: string;
  name: string;
}

/** Injected failures: the next `times` calls of `method` fail with `code`. */
export interface Fault {
  method: string;
  code: grpc.status;
  times: number;
}

export interface HandlerContext {
  store: KmsStore;
  audit: AuditRecord[];
  calls: CallRecord[];
  faults: Fault[];
  now: () => Date;
}

function toServiceError(err: unknown): Partial<grpc.ServiceError> {
  if (err instanceof RpcError) return { code: err.code, details: err.message };
  const details = err instanceof Error ? err.message : String(err);
  return { code: grpc.status.INTERNAL, details: `local KMS server: ${details}` };
}

export function kmsHandlers(ctx: HandlerContext): grpc.UntypedServiceImplementation {
  const { store, audit } = ctx;

  function unary<Req>(
    method: string,
    nameOf: (req: Req) => string,
    run: (req: Req) => object,
  ): grpc.handleUnaryCall<Req, object> {
    return (call, callback) => {
      ctx.calls.push({ method, name: nameOf(call.request) });
      const fault = ctx.faults.find((f) => f.method === method && f.times > 0);
      if (fault) {
        fault.times--;
        callback({ code: fault.code, details: `injected fault on ${method}` });
        return;
      }
      try {
        callback(null, run(call.request));
      } catch (err) {
        callback(toServiceError(err));
      }
    };
  }

  function record(methodName: string, resourceName: string, request: object, response: object) {
    audit.push({
      methodName,
      resourceName,
      request: typed(`${methodName}Request`, request as Record<string, unknown>),
      response: response as Record<string, unknown>,
      timestamp: ctx.now().toISOString(),
    });
  }

  return {
    CreateKeyRing: unary<CreateKeyRingRequestWire>(
      'CreateKeyRing',
      (r) => r.parent,
      (r) => {
        const ring = store.createKeyRing(r.parent, r.key_ring_id);
        const json = { name: ring.name, createTime: ring.createTime.toISOString() };
        record(
          'CreateKeyRing',
          ring.name,
          { parent: r.parent, keyRingId: r.key_ring_id },
          {
            ...typed('KeyRing', json),
          },
        );
        return { name: ring.name, create_time: timestampWire(ring.createTime) };
      },
    ),

    CreateCryptoKey: unary<CreateCryptoKeyRequestWire>(
      'CreateCryptoKey',
      (r) => r.parent,
      (r) => {
        const ck = r.crypto_key ?? {};
        const rotationPeriodSeconds = wireSeconds(ck.rotation_period);
        const nextRotationTime = wireDate(ck.next_rotation_time);
        const destroyScheduledSeconds = wireSeconds(ck.destroy_scheduled_duration);
        const key = store.createCryptoKey(r.parent, r.crypto_key_id, {
          purpose: ck.purpose ?? 'CRYPTO_KEY_PURPOSE_UNSPECIFIED',
          skipInitialVersion: r.skip_initial_version_creation,
          ...(rotationPeriodSeconds !== undefined ? { rotationPeriodSeconds } : {}),
          ...(nextRotationTime ? { nextRotationTime } : {}),
          ...(destroyScheduledSeconds !== undefined ? { destroyScheduledSeconds } : {}),
          ...(ck.labels ? { labels: ck.labels } : {}),
        });
        const json = cryptoKeyJson(store, key);
        record(
          'CreateCryptoKey',
          key.name,
          { parent: r.parent, cryptoKeyId: r.crypto_key_id, cryptoKey: { purpose: key.purpose } },
          typed('CryptoKey', json),
        );
        return cryptoKeyWire(store, key);
      },
    ),

    GetCryptoKey: unary<NameRequestWire>(
      'GetCryptoKey',
      (r) => r.name,
      (r) => cryptoKeyWire(store, store.getCryptoKey(r.name)),
    ),

    GetCryptoKeyVersion: unary<NameRequestWire>(
      'GetCryptoKeyVersion',
      (r) => r.name,
      (r) => versionWire(store.getVersion(r.name)),
    ),

    ListCryptoKeyVersions: unary<ListCryptoKeyVersionsRequestWire>(
      'ListCryptoKeyVersions',
      (r) => r.parent,
      (r) => {
        if (r.filter || r.order_by) {
          throw new RpcError(
            grpc.status.UNIMPLEMENTED,
            'filter and order_by are not supported by the local server',
          );
        }
        const page = store.listVersions(r.parent, r.page_size, r.page_token);
        return {
          crypto_key_versions: page.versions.map(versionWire),
          next_page_token: page.nextPageToken,
          total_size: page.totalSize,
        };
      },
    ),

    CreateCryptoKeyVersion: unary<CreateCryptoKeyVersionRequestWire>(
      'CreateCryptoKeyVersion',
      (r) => r.parent,
      (r) => {
        const version = store.createVersion(r.parent);
        record(
          'CreateCryptoKeyVersion',
          r.parent,
          { parent: r.parent, cryptoKeyVersion: {} },
          typed('CryptoKeyVersion', versionJson(version)),
        );
        return versionWire(version);
      },
    ),

    UpdateCryptoKeyPrimaryVersion: unary<UpdateCryptoKeyPrimaryVersionRequestWire>(
      'UpdateCryptoKeyPrimaryVersion',
      (r) => r.name,
      (r) => {
        const key = store.setPrimary(r.name, r.crypto_key_version_id);
        record(
          'UpdateCryptoKeyPrimaryVersion',
          key.name,
          { name: r.name, cryptoKeyVersionId: r.crypto_key_version_id },
          typed('CryptoKey', cryptoKeyJson(store, key)),
        );
        return cryptoKeyWire(store, key);
      },
    ),

    UpdateCryptoKey: unary<UpdateCryptoKeyRequestWire>(
      'UpdateCryptoKey',
      (r) => r.crypto_key?.name ?? '',
      (r) => {
        const { name, patch, labels, request } = parseCryptoKeyUpdate(r);
        const key = store.updateSchedule(name, patch);
        if (labels) key.labels = labels;
        record('UpdateCryptoKey', key.name, request, typed('CryptoKey', cryptoKeyJson(store, key)));
        return cryptoKeyWire(store, key);
      },
    ),

    DestroyCryptoKeyVersion: unary<NameRequestWire>(
      'DestroyCryptoKeyVersion',
      (r) => r.name,
      (r) => {
        const version = store.destroyVersion(r.name);
        record(
          'DestroyCryptoKeyVersion',
          version.name,
          { name: r.name },
          typed('CryptoKeyVersion', versionJson(version)),
        );
        return versionWire(version);
      },
    ),

    Encrypt: unary<EncryptRequestWire>(
      'Encrypt',
      (r) => r.name,
      (r) => {
        const { version, ciphertext } = store.encrypt(
          r.name,
          r.plaintext,
          r.additional_authenticated_data,
        );
        return { name: version.name, ciphertext, protection_level: 'SOFTWARE' };
      },
    ),

    Decrypt: unary<DecryptRequestWire>(
      'Decrypt',
      (r) => r.name,
      (r) => {
        const { plaintext, usedPrimary } = store.decrypt(
          r.name,
          r.ciphertext,
          r.additional_authenticated_data,
        );
        return { plaintext, used_primary: usedPrimary, protection_level: 'SOFTWARE' };
      },
    ),
  };
}
