// rekey's client for a KMS v2 plugin's Status RPC: the source of truth for which key_id the
// plugin (and so, eventually, every apiserver) encrypts with. Dials the way kube-apiserver does.
import * as grpc from '@grpc/grpc-js';
import type { Retryable } from '../../ports/retryable.ts';
import { kmsSocketTarget, kmsV2ServiceClient, type StatusResponseWire } from './proto.ts';

export interface KmsPluginStatus {
  version: string;
  healthz: string;
  keyId: string;
}

export interface KmsPluginClient {
  /** One Status call with its own deadline; rejects with a KmsPluginError. */
  status(): Promise<KmsPluginStatus>;
  close(): void;
}

export interface KmsPluginClientOptions {
  /** Filesystem path of the plugin's unix socket (or `@name` for an abstract socket). */
  socketPath: string;
  /** Per-call deadline; the apiserver's default KMS timeout is 3 s. */
  timeoutMs?: number;
}

/**
 * Any failure talking to the plugin. `retryable` (shared/ports/retryable.ts) says whether
 * retrying later may succeed.
 */
export class KmsPluginError extends Error implements Retryable {
  override name = 'KmsPluginError';
  readonly code: string;
  readonly retryable: boolean;
  constructor(message: string, options: { code: string; retryable?: boolean; cause?: unknown }) {
    super(message, { cause: options.cause });
    this.code = options.code;
    this.retryable = options.retryable ?? false;
  }
}

/** The plugin could not be reached or did not answer in time: retry, report Degraded meanwhile. */
export class KmsPluginUnavailableError extends KmsPluginError {
  override name = 'KmsPluginUnavailableError';
  constructor(message: string, options: { code: string; cause?: unknown }) {
    super(message, { ...options, retryable: true });
  }
}

const RETRYABLE_CODES = new Set<number>([
  grpc.status.UNAVAILABLE,
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.RESOURCE_EXHAUSTED,
  grpc.status.ABORTED,
]);

function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number';
}

/** Translates a grpc-js error into rekey's vocabulary; nothing outside this module sees gRPC codes. */
export function toKmsPluginError(err: unknown, socketPath: string): KmsPluginError {
  if (!isServiceError(err)) {
    return new KmsPluginError(`KMS plugin at ${socketPath}: ${String(err)}`, {
      code: 'UNKNOWN',
      cause: err,
    });
  }
  const code = grpc.status[err.code] ?? String(err.code);
  const message = `KMS plugin at ${socketPath}: ${code}: ${err.details || err.message}`;
  if (RETRYABLE_CODES.has(err.code))
    return new KmsPluginUnavailableError(message, { code, cause: err });
  return new KmsPluginError(message, { code, cause: err });
}

export function createKmsPluginClient({
  socketPath,
  timeoutMs = 3000,
}: KmsPluginClientOptions): KmsPluginClient {
  const Client = kmsV2ServiceClient();
  const client = new Client(kmsSocketTarget(socketPath), grpc.credentials.createInsecure(), {
    // The apiserver dials with authority "localhost"; some plugins check it.
    'grpc.default_authority': 'localhost',
  });
  const statusRpc = client.Status as unknown as (
    request: Record<string, never>,
    options: grpc.CallOptions,
    callback: (err: grpc.ServiceError | null, response?: StatusResponseWire) => void,
  ) => grpc.ClientUnaryCall;

  return {
    status() {
      return new Promise<KmsPluginStatus>((resolve, reject) => {
        statusRpc.call(client, {}, { deadline: Date.now() + timeoutMs }, (err, response) => {
          if (err || !response) {
            reject(toKmsPluginError(err ?? new Error('empty Status response'), socketPath));
            return;
          }
          resolve({ version: response.version, healthz: response.healthz, keyId: response.key_id });
        });
      });
    },
    close() {
      client.close();
    },
  };
}

const MAX_KEY_ID_BYTES = 1024;

/** Why a Status response would make the apiserver call the plugin unhealthy; empty when healthy. */
export function statusProblems(status: KmsPluginStatus): string[] {
  const problems: string[] = [];
  if (status.version !== 'v2' && status.version !== 'v2beta1') {
    problems.push(`version ${JSON.stringify(status.version)} is not v2 or v2beta1`);
  }
  if (status.healthz !== 'ok') problems.push(`healthz ${JSON.stringify(status.healthz)} is not ok`);
  if (status.keyId === '') problems.push('key_id is empty');
  const keyIdBytes = Buffer.byteLength(status.keyId, 'utf8');
  if (keyIdBytes > MAX_KEY_ID_BYTES) {
    problems.push(`key_id is ${keyIdBytes} bytes, more than ${MAX_KEY_ID_BYTES}`);
  }
  return problems;
}

/** The same validity check kube-apiserver applies to a Status response. */
export function isHealthy(status: KmsPluginStatus): boolean {
  return statusProblems(status).length === 0;
}
