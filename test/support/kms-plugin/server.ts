// The sandbox KMS v2 plugin: a gRPC v2.KeyManagementService on a unix socket, backed by the
// file keyring. The current key_id is re-read on every call, so a rotation made by another
// process (the sandbox CLI) shows up on the next Status without a restart.

import { rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import {
  type DecryptRequestWire,
  type DecryptResponseWire,
  type EncryptRequestWire,
  type EncryptResponseWire,
  kmsSocketTarget,
  kmsV2ServiceClient,
  type StatusResponseWire,
} from '../../../shared/adapters/kms-plugin/proto.ts';
import { MAX_PLAINTEXT_BYTES, unwrap, wrap } from './envelope.ts';
import { type Keyring, openKeyring } from './keyring.ts';

/** Stored in etcd in plaintext next to each object: names the wrapping format, nothing secret. */
export const ANNOTATION_KEY = 'keyring.rekey.dev';
const ANNOTATION_VALUE = Buffer.from('aes-256-gcm;aad=key_id;v1');

type Log = (event: Record<string, unknown>) => void;

function rpcError(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details, message: details };
}

/** Handlers for v2.KeyManagementService. Logs carry key ids and errors, never plaintext or keys. */
export function kmsV2Handlers(
  keyring: Keyring,
  instance: string,
  log: Log,
): grpc.UntypedServiceImplementation {
  function fail(rpc: string, err: unknown): Partial<grpc.ServiceError> {
    const details = err instanceof Error ? err.message : String(err);
    log({ level: 'error', rpc, error: details });
    return rpcError(grpc.status.UNAVAILABLE, `keyring unavailable: ${details}`);
  }

  const Status: grpc.handleUnaryCall<unknown, StatusResponseWire> = (_call, callback) => {
    keyring.current(instance).then(
      (keyId) => callback(null, { version: 'v2', healthz: 'ok', key_id: keyId }),
      (err) => callback(fail('Status', err)),
    );
  };

  const Encrypt: grpc.handleUnaryCall<EncryptRequestWire, EncryptResponseWire> = (
    call,
    callback,
  ) => {
    const { plaintext } = call.request;
    if (plaintext.length === 0 || plaintext.length > MAX_PLAINTEXT_BYTES) {
      callback(
        rpcError(
          grpc.status.INVALID_ARGUMENT,
          `plaintext must be 1..${MAX_PLAINTEXT_BYTES} bytes, got ${plaintext.length}`,
        ),
      );
      return;
    }
    (async () => {
      // Read the pointer once: the key_id returned must be the one the ciphertext was made with.
      const keyId = await keyring.current(instance);
      const key = await keyring.keyFor(keyId);
      if (!key) throw new Error(`current key_id ${keyId} is missing from the keyring`);
      return {
        ciphertext: wrap(key, keyId, plaintext),
        key_id: keyId,
        annotations: { [ANNOTATION_KEY]: ANNOTATION_VALUE },
      };
    })().then(
      (response) => callback(null, response),
      (err) => callback(fail('Encrypt', err)),
    );
  };

  const Decrypt: grpc.handleUnaryCall<DecryptRequestWire, DecryptResponseWire> = (
    call,
    callback,
  ) => {
    const { ciphertext, key_id: keyId, annotations } = call.request;
    const format = annotations[ANNOTATION_KEY];
    if (format !== undefined && !format.equals(ANNOTATION_VALUE)) {
      callback(
        rpcError(
          grpc.status.INVALID_ARGUMENT,
          `unsupported ${ANNOTATION_KEY} annotation ${JSON.stringify(format.toString())}`,
        ),
      );
      return;
    }
    keyring.keyFor(keyId).then(
      (key) => {
        if (!key) {
          callback(
            rpcError(
              grpc.status.NOT_FOUND,
              `unknown key_id ${JSON.stringify(keyId)}: not in keyring ${keyring.dir}`,
            ),
          );
          return;
        }
        try {
          callback(null, { plaintext: unwrap(key, keyId, ciphertext) });
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          callback(
            rpcError(
              grpc.status.INVALID_ARGUMENT,
              `ciphertext does not decrypt under key_id ${JSON.stringify(keyId)}: ${reason}`,
            ),
          );
        }
      },
      (err) => callback(fail('Decrypt', err)),
    );
  };

  return { Status, Encrypt, Decrypt };
}

/** Refuses to steal a socket a live process serves; removes one left behind by a dead plugin. */
async function removeStaleSocket(socketPath: string): Promise<void> {
  try {
    const info = await stat(socketPath);
    if (!info.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const live = await new Promise<boolean>((resolve) => {
    const probe = connect(socketPath);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (live) throw new Error(`another process is serving on ${socketPath}`);
  await rm(socketPath, { force: true });
}

export interface KmsPluginOptions {
  socketPath: string;
  keyringDir: string;
  instance: string;
  log?: Log;
}

export interface RunningKmsPlugin {
  socketPath: string;
  instance: string;
  /** The key_id reported at start. */
  keyId: string;
  keyring: Keyring;
  /** Graceful shutdown (forced after graceMs), then the socket file is removed. */
  stop(graceMs?: number): Promise<void>;
}

export async function startKmsPlugin({
  socketPath,
  keyringDir,
  instance,
  log = () => {},
}: KmsPluginOptions): Promise<RunningKmsPlugin> {
  const keyring = openKeyring({ dir: keyringDir });
  const keyId = await keyring.ensureInitialised(instance);
  await removeStaleSocket(socketPath);

  const server = new grpc.Server();
  server.addService(kmsV2ServiceClient().service, kmsV2Handlers(keyring, instance, log));
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(kmsSocketTarget(socketPath), grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    );
  });

  let stopping: Promise<void> | undefined;
  return {
    socketPath,
    instance,
    keyId,
    keyring,
    stop(graceMs = 2000) {
      stopping ??= (async () => {
        await new Promise<void>((resolve) => {
          const force = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, graceMs);
          server.tryShutdown(() => {
            clearTimeout(force);
            resolve();
          });
        });
        await rm(socketPath, { force: true });
      })();
      return stopping;
    },
  };
}
