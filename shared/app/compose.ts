// rekey's composition root: the one place that turns validated settings (shared/config) into every
// port and use case rekey has. The CLI (functions/cli/main.ts) and each function's main.ts call
// composeApp and take what they serve from it; nothing else builds clients or chooses adapters,
// so adding a setting touches the schema and this folder only.
//
//   compose.ts          the app: reconcile ports and tuning, the KMS rotator, status, functions
//   reconcile-ports.ts  Kubernetes, etcd and KMS-plugin adapters behind the reconcile ports
//   functions.ts        what the HTTP functions get: logger, metrics, hono app, handlers' deps
//   event-sink.ts       where events go: K_SINK, outgoing webhooks, or the log
//   hand-off.ts         a trigger's step handed to the reconcile function (REKEY_STEP_MODE)
//   rotate-then-step.ts the webhook's `rotate`, with Knative's retry rules
//   vault-transit.ts    the Vault / OpenBao settings, and the transit key reader
//
// Layers (docs/architecture.md): shared/app may import anything under shared/; nothing else under
// shared/ imports it; functions/ may. Reading the environment, listening and signals stay with the
// entry points (functions/*/main.ts, functions/start.ts).
import { createKmsRotator, type KmsRotator } from '../adapters/kms-rotator.ts';
import type { RekeyConfig } from '../config/config.ts';
import type { ReconcileConfig, ReconcileDeps } from '../core/deps.ts';
import { statusReport } from '../core/status-report.ts';
import type { SwitchDeps } from '../core/switch-deps.ts';
import type { EncryptionSwitchStore } from '../ports/encryption-switches.ts';
import type { TransitKeyReader } from '../ports/transit-key-reader.ts';
import { composeFunctions, type FunctionName, type Functions } from './functions.ts';
import { type PortOptions, reconcilePortsFor } from './reconcile-ports.ts';
import { switchPortsFor } from './switch-ports.ts';
import { switchTicker } from './switch-tick.ts';
import { transitKeyReaderOf, vaultOptionsOf } from './vault-transit.ts';

export { FUNCTION_NAMES, type FunctionName, type Functions } from './functions.ts';

/** What tests (and the CLI) may choose: clock, log lines, the apiserver connection, a REST wrapper. */
export type ComposeOptions = PortOptions;

/** Everything rekey has, composed from one configuration. */
export interface RekeyApp {
  readonly config: RekeyConfig;
  /** The reconcile step's ports, without events (the CLI's commands and the benchmarks). */
  readonly deps: ReconcileDeps;
  /** How the step is tuned (provider, scope override, budget, page size, ...). */
  readonly reconcile: ReconcileConfig;
  /**
   * Rotates the KMS key behind the provider (AWS, GCP, Vault / OpenBao transit), built on first use
   * and only once; undefined when REKEY_KMS_KEY is unset or names a key rekey cannot rotate (Azure).
   */
  readonly rotator: KmsRotator | undefined;
  /** Reads the transit key's versions when REKEY_KMS_KEY is a Vault / OpenBao transit key. */
  readonly transitKey: TransitKeyReader | undefined;
  /** The provider's status as data (revisions, phases, counts, adoption, scope). */
  status(): ReturnType<typeof statusReport>;
  /**
   * The HTTP functions of one process, `name` being the function (or `serve` for all of them on
   * one app): its logger, metrics, event sink and app, and each served function's handler deps.
   */
  functions(name: string, served: readonly FunctionName[]): Functions;
  /** What `rekey encryption` (switch, status, rollback) needs; built on first use. */
  encryption(): SwitchDeps;
  /** The declared EncryptionSwitch objects (rekey.dev/v1alpha1); built with `encryption()`. */
  encryptionSwitches(): EncryptionSwitchStore;
  /** Closes the Kubernetes client's sockets. */
  close(): void;
}

/**
 * Composes rekey from validated settings. Refusals (an unreadable kubeconfig or etcd certificate)
 * are ConfigErrors thrown here, at start-up, so every entry point exits 2 naming the setting.
 * A process that hands its steps off (REKEY_STEP_MODE=delegate) never verifies: it opens the etcd
 * certificate files only if it serves the reconcile function, so trigger functions need none.
 *
 * @example
 * const rekey = composeApp(loadConfig(process.env));
 * const fns = rekey.functions('kms-event', ['kms-event']);
 * mountKmsEvent(fns.http, fns.kmsEvent);
 */
export function composeApp(config: RekeyConfig, options: ComposeOptions = {}): RekeyApp {
  const ports = reconcilePortsFor(config, {
    ...options,
    etcdFiles:
      options.etcdFiles ?? (config.REKEY_STEP_MODE === 'delegate' ? 'on-first-use' : 'now'),
  });
  let rotator: { built: KmsRotator | undefined } | undefined;
  const vault = vaultOptionsOf(config);
  const rotatorOnce = () => {
    rotator ??= {
      built: config.REKEY_KMS_KEY
        ? createKmsRotator({
            key: config.REKEY_KMS_KEY,
            ...(config.REKEY_AWS_ENDPOINT ? { awsEndpoint: config.REKEY_AWS_ENDPOINT } : {}),
            ...(config.REKEY_GCP_ENDPOINT ? { gcpEndpoint: config.REKEY_GCP_ENDPOINT } : {}),
            ...(vault ? { vault } : {}),
          })
        : undefined,
    };
    return rotator.built;
  };
  let switching: ReturnType<typeof switchPortsFor> | undefined;
  const switchPorts = () => {
    switching ??= switchPortsFor(config, ports.deps, options);
    return switching;
  };
  return {
    config,
    deps: ports.deps,
    reconcile: ports.reconcile,
    get rotator() {
      return rotatorOnce();
    },
    transitKey: transitKeyReaderOf(config),
    status: () => statusReport(ports.deps, ports.reconcile),
    functions: (name, served) => {
      // whoever runs the steps verifies them: its etcd files are a start-up refusal
      if (served.includes('reconcile')) ports.requireEtcdFiles();
      const fns = composeFunctions(
        {
          config,
          deps: ports.deps,
          reconcile: ports.reconcile,
          authentication: ports.authentication,
          webhookClaims: ports.webhookClaims,
          rotator: rotatorOnce,
          close: ports.close,
        },
        name,
        served,
      );
      if (!served.includes('reconcile')) return fns;
      // PingSource ticks also drive the declared EncryptionSwitch (switch-tick.ts)
      const encryptionSwitch = switchTicker(switchPorts, ports.reconcile.budgetMs, fns.logger);
      return { ...fns, reconcile: { ...fns.reconcile, encryptionSwitch } };
    },
    encryption: () => switchPorts().deps,
    encryptionSwitches: () => switchPorts().switches,
    close: () => {
      switching?.close();
      ports.close();
    },
  };
}
