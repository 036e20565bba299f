// Builds the @google-cloud/kms client. In production: the default endpoint
// (cloudkms.googleapis.com:443, TLS) and Application Default Credentials, so Workload Identity,
// GOOGLE_APPLICATION_CREDENTIALS or the metadata server supply the identity. For a local endpoint:
// `apiEndpoint` + `port` + insecure `sslCreds`; google-gax then uses sslCreds as the channel
// credentials as they are and never asks google-auth-library for a token.
import { KeyManagementServiceClient } from '@google-cloud/kms';
import * as grpc from '@grpc/grpc-js';

export interface GcpKmsClientOptions {
  /** Host of the endpoint (no port); default `cloudkms.googleapis.com`. */
  apiEndpoint?: string;
  /** Port of the endpoint; default 443. */
  port?: number;
  /** A service account key's fields; default: Application Default Credentials. */
  credentials?: { client_email: string; private_key: string };
  /** gRPC channel credentials; `grpc.credentials.createInsecure()` for a local endpoint. */
  sslCreds?: grpc.ChannelCredentials;
}

/**
 * The SDK client for these options. With `sslCreds` it also pins the universe domain: google-gax
 * checks the configured universe against the credentials' one on the first call, and without an
 * explicit value google-auth-library would go looking for ADC (and the GCE metadata server) only
 * to answer that question, on a connection that uses no token at all.
 */
export function createKmsClient({
  apiEndpoint,
  port,
  credentials,
  sslCreds,
}: GcpKmsClientOptions = {}): KeyManagementServiceClient {
  return new KeyManagementServiceClient({
    ...(apiEndpoint ? { apiEndpoint } : {}),
    ...(port ? { port } : {}),
    ...(credentials ? { credentials } : {}),
    ...(sslCreds ? { sslCreds, universeDomain: 'googleapis.com' } : {}),
  });
}

/** Options for a local, plaintext endpoint given as `host:port` (tests, the sandbox plugin). */
export function localKmsClientOptions(endpoint: string): GcpKmsClientOptions {
  const at = endpoint.lastIndexOf(':');
  const port = Number(endpoint.slice(at + 1));
  if (at <= 0 || !Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new TypeError(`not a host:port endpoint: "${endpoint}"`);
  }
  return {
    apiEndpoint: endpoint.slice(0, at),
    port,
    sslCreds: grpc.credentials.createInsecure(),
  };
}
