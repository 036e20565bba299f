// The sandbox KMS v2 plugin: a gRPC v2.KeyManagementService on a unix socket over a key backend
// (the file keyring by default; AWS or GCP KMS through rekey's adapters). The current key_id is
// re-read on every call, so a rotation made elsewhere shows up on the next Status.

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
import { BackendError, type KeyBackend } from './backends/backend.ts';
import { keyringBackend } from './backends/keyring-backend.ts';
import { type Keyring, openKeyring } from './keyring.ts';

export { ANNOTATION_KEY } from './backends/keyring-backend.ts';

type Log = (event: Record<string, unknown>) => void;

function rpcError(code: grpc.status, details: string): Partial<grpc.ServiceError> {
  return { code, details, message: details };
}

/** Handlers for v2.KeyManagementService over a backend. Logs carry key ids and errors, never plaintext or keys. */
export function kmsV2BackendHandlers(
  backend: KeyBackend,
  log: Log,
): grpc.UntypedServiceImplementation {
  function fail(rpc: string, err: unknown): Partial<grpc.ServiceError> {
    const details = err instanceof Error ? err.message : String(err);
    if (err instanceof BackendError) {
      return rpcError(
        err.kind === 'not-found' ? grpc.status.NOT_FOUND : grpc.status.INVALID_ARGUMENT,
        details,
      );
    }
    log({ level: 'error', rpc, error: details });
    return rpcError(grpc.status.UNAVAILABLE, `key backend unavailable: ${details}`);
  }

  const Status: grpc.handleUnaryCall<unknown, StatusResponseWire> = (_call, callback) => {
    backend.current().then(
      (keyId) => callback(null, { version: 'v2', healthz: 'ok', key_id: keyId }),
      (err) => callback(fail('Status', err)),
    );
  };

  const Encrypt: grpc.handleUnaryCall<EncryptRequestWire, EncryptResponseWire> = (
    call,
    callback,
  ) => {
    backend.encrypt(call.request.plaintext).then(
      (r) =>
        callback(null, { ciphertext: r.ciphertext, key_id: r.keyId, annotations: r.annotations }),
      (err) => callback(fail('Encrypt', err)),
    );
  };

  const Decrypt: grpc.handleUnaryCall<DecryptRequestWire, DecryptResponseWire> = (
    call,
    callback,
  ) => {
    const { ciphertext, key_id: keyId, annotations } = call.request;
    backend.decrypt({ keyId, ciphertext, annotations }).then(
      (plaintext) => callback(null, { plaintext }),
      (err) => callback(fail('Decrypt', err)),
    );
  };

  return { Status, Encrypt, Decrypt };
}

/** Handlers over the local keyring (the sandbox default). */
export function kmsV2Handlers(
  keyring: Keyring,
  instance: string,
  log: Log,
): grpc.UntypedServiceImplementation {
  return kmsV2BackendHandlers(keyringBackend(keyring, instance), log);
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
  /** Another key backend (AWS, GCP); the keyring is still opened for the local default. */
  backend?: KeyBackend;
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
  backend,
  log = () => {},
}: KmsPluginOptions): Promise<RunningKmsPlugin> {
  const keyring = openKeyring({ dir: keyringDir });
  const keyId = backend ? await backend.current() : await keyring.ensureInitialised(instance);
  await removeStaleSocket(socketPath);

  const server = new grpc.Server();
  server.addService(
    kmsV2ServiceClient().service,
    kmsV2BackendHandlers(backend ?? keyringBackend(keyring, instance), log),
  );
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
