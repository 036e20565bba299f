// A local Cloud KMS: the real google.cloud.kms.v1.KeyManagementService gRPC contract on
// 127.0.0.1 (insecure), backed by an in-memory KmsStore. Tests point the real @google-cloud/kms
// client at it through the adapter's endpoint override, rotate keys, inject faults, stop it, and
// turn what it changed into the audit-log CloudEvents Eventarc would deliver.
import * as grpc from '@grpc/grpc-js';
import { type AuditCloudEventOptions, type AuditRecord, auditLogCloudEvent } from './audit-log.ts';
import { type CallRecord, type Fault, kmsHandlers } from './handlers.ts';
import { kmsServiceDefinition } from './proto.ts';
import type { Json } from './render.ts';
import { KmsStore } from './store.ts';

export interface GcpKmsServerOptions {
  host?: string;
  /** 0 (default) picks a free port; pass a stopped server's port to bring it back. */
  port?: number;
  /** Shared state, e.g. the `store` of a stopped server to restart with the same keys. */
  store?: KmsStore;
  audit?: AuditRecord[];
  now?: () => Date;
}

export interface GcpKmsServer {
  readonly host: string;
  readonly port: number;
  /** `host:port`, for clients that take one target string. */
  readonly endpoint: string;
  readonly store: KmsStore;
  /** Admin Activity entries, oldest first. */
  readonly audit: AuditRecord[];
  /** Every RPC received, oldest first. */
  readonly calls: CallRecord[];
  /** The next `times` calls of `method` (e.g. `GetCryptoKey`) fail with `code`. */
  failNext(method: string, code: grpc.status, times?: number): void;
  /** The newest audit entry of `methodName` (for `resourceName`, when given) as a CloudEvent. */
  auditEvent(
    methodName: string,
    resourceName?: string,
    options?: AuditCloudEventOptions,
  ): Json | undefined;
  /**
   * Stops: open connections get a GOAWAY (calls in flight may finish within `graceMs`, then are
   * cut), so a client's next call finds nothing listening and fails UNAVAILABLE.
   */
  stop(graceMs?: number): Promise<void>;
}

export async function startGcpKmsServer({
  host = '127.0.0.1',
  port = 0,
  now = () => new Date(),
  store = new KmsStore({ now }),
  audit = [],
}: GcpKmsServerOptions = {}): Promise<GcpKmsServer> {
  const calls: CallRecord[] = [];
  const faults: Fault[] = [];
  const server = new grpc.Server();
  server.addService(
    kmsServiceDefinition().service,
    kmsHandlers({ store, audit, calls, faults, now }),
  );
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    );
  });
  let stopped = false;
  return {
    host,
    port: bound,
    endpoint: `${host}:${bound}`,
    store,
    audit,
    calls,
    failNext(method, code, times = 1) {
      faults.push({ method, code, times });
    },
    auditEvent(methodName, resourceName, options) {
      const match = audit.findLast(
        (r) =>
          r.methodName === methodName &&
          (resourceName === undefined || r.resourceName === resourceName),
      );
      return match ? auditLogCloudEvent(match, options) : undefined;
    },
    async stop(graceMs = 1000) {
      if (stopped) return;
      stopped = true;
      const timer = setTimeout(() => server.forceShutdown(), graceMs);
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      clearTimeout(timer);
    },
  };
}
