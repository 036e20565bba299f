// Builds the KMS SDK client. Credentials and region come from the SDK's standard chain unless
// given: environment, shared config/profile, web identity token (IRSA, EKS Pod Identity), ECS and
// instance metadata. `endpoint` points the real SDK at a local KMS for tests.
import { KMSClient, type KMSClientConfig } from '@aws-sdk/client-kms';

export interface AwsKmsClientOptions {
  /** Default: the standard chain (`AWS_REGION`, profile, IMDS). */
  region?: string;
  /** A KMS-compatible endpoint, e.g. `http://127.0.0.1:4599` for a local one. */
  endpoint?: string;
  /** Default: the standard credential chain (IRSA works through `AWS_WEB_IDENTITY_TOKEN_FILE`). */
  credentials?: KMSClientConfig['credentials'];
  /** SDK attempts per call including the first (the SDK retries throttling and 5xx); default 3. */
  maxAttempts?: number;
  /** Per-attempt deadline for the HTTP request; default 10 s. */
  requestTimeoutMs?: number;
}

export function createKmsClient({
  region,
  endpoint,
  credentials,
  maxAttempts = 3,
  requestTimeoutMs = 10_000,
}: AwsKmsClientOptions = {}): KMSClient {
  const config: KMSClientConfig = {
    maxAttempts,
    requestHandler: {
      requestTimeout: requestTimeoutMs,
      connectionTimeout: requestTimeoutMs,
      // Without it the SDK only logs a warning and waits on a hung socket for ever.
      throwOnRequestTimeout: true,
    },
  };
  if (region !== undefined) config.region = region;
  if (endpoint !== undefined) config.endpoint = endpoint;
  if (credentials !== undefined) config.credentials = credentials;
  return new KMSClient(config);
}
