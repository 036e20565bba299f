// Builds rekey's real reconcile graph against a sandbox, as the `rekey` identity (least-privilege
// RBAC from infra/base), with every REST exchange recorded so tests can check what rekey asked for.
import type {
  RestClient,
  RestRequest,
  RestResponse,
} from '../../shared/adapters/k8s/rest-client.ts';
import { composeApp } from '../../shared/app/compose.ts';
import { loadConfig } from '../../shared/config/config.ts';
import type { ProviderConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { connection } from './kube.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';

/**
 * Where rekey keeps its records in a sandbox: the state namespace infra/ creates and grants
 * (REKEY_STATE_NAMESPACE), so the sandbox's identities exercise the same roles as an install.
 */
export const STATE_NAMESPACE = 'rekey-state';
/**
 * Where the webhook keeps its replay claims, as infra/ sets on the webhook's Service alone
 * (REKEY_REPLAY_NAMESPACE). rekeySettings leave it unset (the claims then go to the state
 * namespace), so the Knative tier's webhook takes it from infra/ as a pod would.
 */
export const REPLAY_NAMESPACE = 'rekey-replay';

/** Settings rekey would get from its environment for this sandbox. */
export function rekeySettings(
  env: SandboxEnv,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    REKEY_PROVIDER: env.kms.providerName,
    REKEY_STATE_NAMESPACE: STATE_NAMESPACE,
    // no REKEY_RESOURCES: the scope comes from the EncryptionConfiguration the reporters read
    REKEY_APISERVER_URLS: env.apiservers.map((a) => a.url).join(','),
    REKEY_ETCD_ENDPOINTS: env.etcd.url,
    REKEY_ETCD_PREFIX: env.etcd.prefix,
    REKEY_BUDGET_SECONDS: '20',
    ...overrides,
  };
}

export interface Exchange {
  request: RestRequest;
  response: RestResponse;
}

export interface RekeyUnderTest {
  deps: ReconcileDeps;
  /** rekeySettings pin the provider (REKEY_PROVIDER), unless a test unsets it. */
  config: ProviderConfig;
  exchanges: Exchange[];
  logs: string[];
  close(): void;
}

export function rekeyFor(env: SandboxEnv, overrides: Record<string, string> = {}): RekeyUnderTest {
  const config = loadConfig(rekeySettings(env, overrides));
  const logs: string[] = [];
  const exchanges: Exchange[] = [];
  const rekey = composeApp(config, {
    wrapRest: (rest) => recording(rest, exchanges),
    connection: connection(env, { user: 'rekey' }),
    log: (message, fields) => logs.push(JSON.stringify({ message, ...fields })),
  });
  const { provider } = rekey.reconcile;
  if (!provider) throw new Error('rekeyFor: these tests pin REKEY_PROVIDER');
  return {
    deps: rekey.deps,
    config: { ...rekey.reconcile, provider },
    exchanges,
    logs,
    close: rekey.close,
  };
}

/** Wraps a RestClient so every exchange is kept (tests only). */
export function recording(rest: RestClient, into: Exchange[]): RestClient {
  return {
    async request(request) {
      const response = await rest.request(request);
      into.push({ request, response });
      return response;
    },
    close: () => rest.close(),
  };
}
