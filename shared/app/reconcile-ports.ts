// The reconcile step's ports and tuning from validated settings: the Kubernetes REST client and
// what is built on it (revision store, key observer, adoption reader, rewriter, Lease, discovery;
// key-id reports first, else the apiservers' metrics, for hosted control planes with no reporter),
// etcd verification when configured, and the TokenReview API for sender authentication. Part of
// the composition root (compose.ts); reads no environment, so tests build the same graph against
// a sandbox.
// Namespaces: rekey's own records (revision Secrets, the runner Lease) live in the state namespace
// (stateNamespaceOf: REKEY_STATE_NAMESPACE, else REKEY_NAMESPACE); the webhook's replay claims in
// the replay namespace (replayNamespaceOf: REKEY_REPLAY_NAMESPACE, else the state namespace), so
// its identity need not hold Lease verbs where the runner Lease is; key-id reports in
// REKEY_NAMESPACE.
// etcd: the client certificate files are read once, on first use of the verifier or the scanner,
// or at start-up when the caller asks (etcdFiles: 'now', or requireEtcdFiles()): a process that
// runs steps refuses unreadable files at start-up (a ConfigError naming the variable, exit 2); a
// trigger function that only hands its steps off never opens them, so it needs no mounted files.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { createAdoptionReader } from '../adapters/apiserver-metrics/adoption-reader.ts';
import { createMetricsKeyObserver } from '../adapters/apiserver-metrics/metrics-key-observer.ts';
import {
  connectEtcd,
  createEtcdInspector,
  type EtcdInspectorOptions,
  etcd3RangeReader,
} from '../adapters/etcd/inspector.ts';
import {
  createStoredEncryptionReader,
  STORED_MAX_RECEIVE_BYTES,
} from '../adapters/etcd/stored-encryption.ts';
import { createEtcdVerifier } from '../adapters/etcd/verifier.ts';
import { withFallbackObserver } from '../adapters/fallback-key-observer.ts';
import { type Connection, loadConnection } from '../adapters/k8s/connection.ts';
import { listServedResources } from '../adapters/k8s/discovery.ts';
import { createLeaseLock } from '../adapters/k8s/lease-lock.ts';
import { withoutAnnotations } from '../adapters/k8s/metadata-only.ts';
import { createObjectCounter } from '../adapters/k8s/object-counter.ts';
import { createObjectLookup } from '../adapters/k8s/object-lookup.ts';
import { createObjectRewriter } from '../adapters/k8s/object-rewriter.ts';
import { createLeaseReplayClaims } from '../adapters/k8s/replay-claims.ts';
import { createReportKeyObserver } from '../adapters/k8s/report-key-observer.ts';
import { createReportedConfigs } from '../adapters/k8s/reported-configs.ts';
import { createRestClient, type RestClient } from '../adapters/k8s/rest-client.ts';
import { createRevisionStore } from '../adapters/k8s/revision-store.ts';
import { type AuthenticationApi, typedApi } from '../adapters/k8s/typed-api.ts';
import { createKmsCurrent } from '../adapters/kms-current.ts';
import { createPluginKeyObserver } from '../adapters/kms-plugin/plugin-key-observer.ts';
import {
  ConfigError,
  maxConcurrencyOf,
  type RekeyConfig,
  replayNamespaceOf,
  stateNamespaceOf,
} from '../config/config.ts';
import {
  adaptiveLimit,
  type ConcurrencyLimit,
  fixedLimit,
  measuredRewriter,
} from '../core/concurrency-limit.ts';
import type { Log, ReconcileConfig, ReconcileDeps } from '../core/deps.ts';
import { DEFAULT_BOUNDS } from '../domain/adaptive-concurrency.ts';
import { type Clock, systemClock } from '../ports/clock.ts';
import type { ReplayClaims } from '../ports/replay-claims.ts';
import type { StoredEncryptionReader } from '../ports/stored-encryption.ts';
import { vaultOptionsOf } from './vault-transit.ts';

export interface ReconcilePorts {
  deps: ReconcileDeps;
  reconcile: ReconcileConfig;
  /** TokenReviews, for the functions' sender authentication. */
  authentication: AuthenticationApi;
  /** Webhook replay claims, shared by every replica (Leases in the replay namespace). */
  webhookClaims: ReplayClaims;
  /**
   * Reads the etcd client certificate files now (once), if etcd verification is configured; an
   * unreadable one is a ConfigError naming its variable.
   */
  requireEtcdFiles(): void;
  close(): void;
}

/** What tests and the CLI may choose instead of the defaults. */
export interface PortOptions {
  /** Default the wall clock. */
  clock?: Clock;
  /** The step's log lines (default none; the functions log through their logger). */
  log?: ReconcileDeps['log'];
  /** Where the apiserver is and who rekey is; default KUBECONFIG, else in-cluster. */
  connection?: Connection;
  /** Decorates the REST client (tests record what rekey sends and receives). */
  wrapRest?: (rest: RestClient) => RestClient;
  /**
   * When the etcd client certificate files are read: 'now' (default; a refusal while composing)
   * or 'on-first-use' (a process that may never verify, e.g. a trigger function handing off).
   */
  etcdFiles?: 'now' | 'on-first-use';
}

export function reconcilePortsFor(
  config: RekeyConfig,
  {
    clock = systemClock,
    log,
    connection,
    wrapRest = (r) => r,
    etcdFiles = 'now',
  }: PortOptions = {},
): ReconcilePorts {
  const conn = connection ?? loadConnection(config);
  const raw = createRestClient(conn, { maxSockets: maxConcurrencyOf(config) + 4 });
  const limit = concurrencyLimitOf(config, log);
  // rekey's own state goes around wrapRest: tests record the calls that touch users' objects, as
  // rekey receives them: without annotations, which can carry a Secret's values (R12)
  const { core, coordination, authentication } = typedApi(raw);
  const rest = wrapRest(withoutAnnotations(raw));
  // key-id reports are in rekey's namespace; its own records in the state namespace
  const namespace = config.REKEY_NAMESPACE;
  const stateNamespace = stateNamespaceOf(config);
  const etcd = config.REKEY_ETCD_ENDPOINTS;
  let etcdOptions: Omit<EtcdInspectorOptions, 'resources'> | undefined;
  // the files are read once; an unreadable one is a refusal naming its variable (exit 2 at
  // start-up), not a crash
  const etcdOptionsOnce = (endpoints: string[]) => {
    etcdOptions ??= {
      endpoints,
      prefix: config.REKEY_ETCD_PREFIX,
      ...etcdTlsOf(config),
    };
    return etcdOptions;
  };
  if (etcd && etcdFiles === 'now') etcdOptionsOnce(etcd);
  let verifier: ReturnType<typeof createEtcdVerifier> | undefined;
  // the migration's reads of a page's keys share one client, opened on first use
  let storedReader: { reader: StoredEncryptionReader; close(): void } | undefined;
  const storedEncryptionOnce = (endpoints: string[]) => {
    if (!storedReader) {
      const client = connectEtcd({
        ...etcdOptionsOnce(endpoints),
        maxReceiveBytes: STORED_MAX_RECEIVE_BYTES,
      });
      storedReader = {
        reader: createStoredEncryptionReader(etcd3RangeReader(client), {
          prefix: config.REKEY_ETCD_PREFIX,
        }),
        close: () => client.close(),
      };
    }
    return storedReader.reader;
  };
  const countObjects = createObjectCounter(rest);
  // unset REKEY_APISERVER_URLS: the reader discovers the apiservers, else asks the connection's
  const adoption = createAdoptionReader({
    rest,
    coordination,
    apiserverUrls: config.REKEY_APISERVER_URLS,
    fallbackServer: conn.server,
    clock,
  });
  const vault = vaultOptionsOf(config);
  const kmsCurrent = config.REKEY_KMS_KEY
    ? createKmsCurrent({
        key: config.REKEY_KMS_KEY,
        ...(config.REKEY_AWS_ENDPOINT ? { awsEndpoint: config.REKEY_AWS_ENDPOINT } : {}),
        ...(config.REKEY_GCP_ENDPOINT ? { gcpEndpoint: config.REKEY_GCP_ENDPOINT } : {}),
        ...(vault ? { vault } : {}),
      })
    : undefined;
  const deps: ReconcileDeps = {
    store: createRevisionStore(core, { namespace: stateNamespace }),
    observer: config.REKEY_PLUGIN_SOCKETS
      ? createPluginKeyObserver({ sockets: config.REKEY_PLUGIN_SOCKETS, clock })
      : withFallbackObserver(
          createReportKeyObserver(core, { namespace, clock, leases: coordination }),
          createMetricsKeyObserver({ adoption, clock, kmsCurrent, ...(log ? { log } : {}) }),
        ),
    // which kms provider writes, when REKEY_PROVIDER pins none (shared/core/followed-provider.ts)
    configs: createReportedConfigs(core, { namespace, clock, leases: coordination }),
    adoption,
    rewriter: measuredRewriter(createObjectRewriter(rest), limit, clock),
    limit,
    lookup: createObjectLookup(rest),
    // on the raw client, as rekey's own state; it reads the apiserver's Date on its answers
    lock: createLeaseLock(raw, { namespace: stateNamespace, clock }),
    clock,
    served: { list: () => listServedResources(rest) },
    ...(etcd
      ? {
          // built on first use: the certificate files are opened only by a scan
          verifier: {
            scan: async (request) => {
              verifier ??= createEtcdVerifier(etcdOptionsOnce(etcd), { clock, countObjects });
              return verifier.scan(request);
            },
          },
          scanner: {
            prefix: config.REKEY_ETCD_PREFIX,
            async *values() {
              const inspector = createEtcdInspector(etcdOptionsOnce(etcd));
              try {
                yield* inspector.values();
              } finally {
                inspector.close();
              }
            },
          },
          storedEncryption: {
            read: (resource, objects) => storedEncryptionOnce(etcd).read(resource, objects),
          },
        }
      : {}),
    ...(log ? { log } : {}),
  };
  const reconcile: ReconcileConfig = {
    ...(config.REKEY_PROVIDER ? { provider: config.REKEY_PROVIDER } : {}),
    ...(config.REKEY_RESOURCES !== undefined ? { resources: config.REKEY_RESOURCES } : {}),
    // where the revisions are: their own writes are not rewrites
    namespace: stateNamespace,
    holder: config.REKEY_HOLDER ?? `${hostname()}-${process.pid}`,
    budgetMs: config.REKEY_BUDGET_SECONDS * 1000,
    pageSize: config.REKEY_PAGE_SIZE,
    fallbackWaitMs: config.REKEY_FALLBACK_WAIT_SECONDS * 1000,
    keepRevisions: config.REKEY_KEEP_REVISIONS,
  };
  // on the raw client, as rekey's own state
  const webhookClaims = createLeaseReplayClaims(raw, {
    namespace: replayNamespaceOf(config),
    holder: reconcile.holder,
    clock,
  });
  return {
    deps,
    reconcile,
    authentication,
    webhookClaims,
    requireEtcdFiles: () => {
      if (etcd) etcdOptionsOnce(etcd);
    },
    close: () => {
      storedReader?.close();
      rest.close();
    },
  };
}

/** The etcd client certificate's files, read; an unreadable one is a ConfigError naming it. */
function etcdTlsOf(config: RekeyConfig): Pick<EtcdInspectorOptions, 'tls'> {
  const read = (v: 'REKEY_ETCD_CA_FILE' | 'REKEY_ETCD_CERT_FILE' | 'REKEY_ETCD_KEY_FILE') => {
    const f = config[v];
    try {
      return f ? readFileSync(f) : undefined;
    } catch (err) {
      throw new ConfigError(`${v}: ${f}: ${(err as Error).message}`, { cause: err });
    }
  };
  if (!config.REKEY_ETCD_CA_FILE && !config.REKEY_ETCD_CERT_FILE) return {};
  return {
    tls: {
      ca: read('REKEY_ETCD_CA_FILE') ?? Buffer.alloc(0),
      ...(config.REKEY_ETCD_CERT_FILE ? { cert: read('REKEY_ETCD_CERT_FILE') as Buffer } : {}),
      ...(config.REKEY_ETCD_KEY_FILE ? { key: read('REKEY_ETCD_KEY_FILE') as Buffer } : {}),
    },
  };
}

/** REKEY_CONCURRENCY's limit: adaptive (`auto`, starting at 8 or the ceiling if lower) or fixed. */
function concurrencyLimitOf(config: RekeyConfig, log: Log | undefined): ConcurrencyLimit {
  if (config.REKEY_CONCURRENCY !== 'auto') return fixedLimit(config.REKEY_CONCURRENCY);
  const max = config.REKEY_CONCURRENCY_MAX;
  return adaptiveLimit({ min: 1, max, start: Math.min(DEFAULT_BOUNDS.start, max) }, (n) =>
    log?.('rewrite concurrency adapted', { concurrency: n }),
  );
}
