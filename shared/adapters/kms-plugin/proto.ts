// Loads kms-v2.proto once and exposes the v2.KeyManagementService definition plus the wire shapes,
// so rekey's Status client and the sandbox plugin share one contract.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/** Wire objects as proto-loader yields them with keepCase: snake_case fields, bytes as Buffer. */
export interface StatusResponseWire {
  version: string;
  healthz: string;
  key_id: string;
}
export interface EncryptRequestWire {
  plaintext: Buffer;
  uid: string;
}
export interface EncryptResponseWire {
  ciphertext: Buffer;
  key_id: string;
  annotations: Record<string, Buffer>;
}
export interface DecryptRequestWire {
  ciphertext: Buffer;
  uid: string;
  key_id: string;
  annotations: Record<string, Buffer>;
}
export interface DecryptResponseWire {
  plaintext: Buffer;
}

export const KMS_V2_PROTO_PATH = fileURLToPath(new URL('./kms-v2.proto', import.meta.url));

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated client constructor; its `.service` is what a grpc.Server registers. */
export function kmsV2ServiceClient(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const definition = protoLoader.loadSync(KMS_V2_PROTO_PATH, {
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    v2: { KeyManagementService: grpc.ServiceClientConstructor };
  };
  cached = loaded.v2.KeyManagementService;
  return cached;
}

/**
 * gRPC target for a plugin socket. Accepts a filesystem path, `@name` (Linux abstract socket,
 * the apiserver's `unix:///@name`), or an already-formed `unix:`/`unix-abstract:` target.
 */
export function kmsSocketTarget(socketPath: string): string {
  if (socketPath.startsWith('unix:') || socketPath.startsWith('unix-abstract:')) return socketPath;
  if (socketPath.startsWith('@')) return `unix-abstract:${socketPath.slice(1)}`;
  return `unix:${socketPath}`;
}
