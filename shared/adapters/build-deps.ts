// Builds the reconcile ports from validated settings. Reads no environment itself: each main.ts
// loads the config and calls this, so tests can build the same graph against the sandbox.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { ConfigError, type RekeyConfig } from '../config/config.ts';
import type { ReconcileConfig, ReconcileDeps } from '../core/deps.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import { createAdoptionReader } from './apiserver-metrics/adoption-reader.ts';
import { createEtcdInspector, type EtcdInspectorOptions } from './etcd/inspector.ts';
import { createEtcdVerifier } from './etcd/verifier.ts';
import { type Connection, loadConnection } from './k8s/connection.ts';
import { listServedResources } from './k8s/discovery.ts';
import { createLeaseLock } from './k8s/lease-lock.ts';
import { createObjectCounter } from './k8s/object-counter.ts';
import { createObjectRewriter } from './k8s/object-rewriter.ts';
import { createReportKeyObserver } from './k8s/report-key-observer.ts';
import { createRestClient, type RestClient } from './k8s/rest-client.ts';
import { createRevisionStore } from './k8s/revision-store.ts';
import { type AuthenticationApi, typedApi } from './k8s/typed-api.ts';
import { createPluginKeyObserver } from './kms-plugin/plugin-key-observer.ts';

export interface Built {
  deps: ReconcileDeps;
  reconcile: ReconcileConfig;
  /** TokenReviews, for the functions' sender authentication. */
  authentication: AuthenticationApi;
  close(): void;
}

export function buildDeps(
  config: RekeyConfig,
  {
    clock = systemClock,
    log,
    connection,
    wrapRest = (r) => r,
  }: {
    clock?: Clock;
    log?: ReconcileDeps['log'];
    /** Where the apiserver is and who rekey is; default KUBECONFIG, else in-cluster. */
    connection?: Connection;
    /** Decorates the REST client (tests record what rekey sends and receives). */
    wrapRest?: (rest: RestClient) => RestClient;
  } = {},
): Built {
  const conn = connection ?? loadConnection(config);
  const raw = createRestClient(conn, { maxSockets: config.REKEY_CONCURRENCY + 4 });
  // rekey's own state goes around wrapRest: tests record the calls that touch users' objects
  const { core, coordination, authentication } = typedApi(raw);
  const rest = wrapRest(raw);
  const namespace = config.REKEY_NAMESPACE;
  const apiserverUrls = config.REKEY_APISERVER_URLS ?? [conn.server];
  const etcd = config.REKEY_ETCD_ENDPOINTS;
  // an unreadable file is a start-up refusal naming its variable (exit 2), not a crash
  const read = (v: 'REKEY_ETCD_CA_FILE' | 'REKEY_ETCD_CERT_FILE' | 'REKEY_ETCD_KEY_FILE') => {
    const f = config[v];
    try {
      return f ? readFileSync(f) : undefined;
    } catch (err) {
      throw new ConfigError(`${v}: ${f}: ${(err as Error).message}`, { cause: err });
    }
  };
  const tls =
    config.REKEY_ETCD_CA_FILE || config.REKEY_ETCD_CERT_FILE
      ? {
          ca: read('REKEY_ETCD_CA_FILE') ?? Buffer.alloc(0),
          ...(config.REKEY_ETCD_CERT_FILE ? { cert: read('REKEY_ETCD_CERT_FILE') as Buffer } : {}),
          ...(config.REKEY_ETCD_KEY_FILE ? { key: read('REKEY_ETCD_KEY_FILE') as Buffer } : {}),
        }
      : undefined;

  const etcdOptions: Omit<EtcdInspectorOptions, 'resources'> | undefined = etcd
    ? { endpoints: etcd, prefix: config.REKEY_ETCD_PREFIX, ...(tls ? { tls } : {}) }
    : undefined;
  const countObjects = createObjectCounter(rest);
  const deps: ReconcileDeps = {
    store: createRevisionStore(core, { namespace }),
    observer: config.REKEY_PLUGIN_SOCKETS
      ? createPluginKeyObserver({ sockets: config.REKEY_PLUGIN_SOCKETS, clock })
      : createReportKeyObserver(core, { namespace, clock }),
    adoption: createAdoptionReader({ rest, coordination, apiserverUrls, clock }),
    rewriter: createObjectRewriter(rest),
    lock: createLeaseLock(coordination, { namespace, clock }),
    clock,
    served: { list: () => listServedResources(rest) },
    ...(etcdOptions
      ? {
          verifier: createEtcdVerifier(etcdOptions, { clock, countObjects }),
          scanner: {
            prefix: config.REKEY_ETCD_PREFIX,
            async *values() {
              const inspector = createEtcdInspector(etcdOptions);
              try {
                yield* inspector.values();
              } finally {
                inspector.close();
              }
            },
          },
        }
      : {}),
    ...(log ? { log } : {}),
  };
  const reconcile: ReconcileConfig = {
    provider: config.REKEY_PROVIDER,
    resources: config.REKEY_RESOURCES,
    namespace,
    holder: config.REKEY_HOLDER ?? `${hostname()}-${process.pid}`,
    budgetMs: config.REKEY_BUDGET_SECONDS * 1000,
    pageSize: config.REKEY_PAGE_SIZE,
    concurrency: config.REKEY_CONCURRENCY,
    fallbackWaitMs: config.REKEY_FALLBACK_WAIT_SECONDS * 1000,
    keepRevisions: config.REKEY_KEEP_REVISIONS,
  };
  return { deps, reconcile, authentication, close: () => rest.close() };
}
