// What `rekey encryption` gets: the configuration revision Secrets (state namespace), the node
// agents' write reports (rekey's namespace), every apiserver's applied hash (its own /metrics),
// and the reconcile ports it shares (rewriter, etcd scan, discovery, clock); and the declared
// EncryptionSwitch objects. Built on first use, on a client of its own, closed with the app.
import { createConfigHashReader } from '../adapters/apiserver-metrics/config-hash-reader.ts';
import { createConfigRevisionStore } from '../adapters/k8s/config-revision-store.ts';
import { loadConnection } from '../adapters/k8s/connection.ts';
import { createEncryptionSwitchStore } from '../adapters/k8s/encryption-switch-store.ts';
import { createNodeConfigWrites } from '../adapters/k8s/node-config-writes.ts';
import { createRestClient } from '../adapters/k8s/rest-client.ts';
import { typedApi } from '../adapters/k8s/typed-api.ts';
import { maxConcurrencyOf, type RekeyConfig, stateNamespaceOf } from '../config/config.ts';
import type { ReconcileDeps } from '../core/deps.ts';
import type { SwitchDeps } from '../core/switch-deps.ts';
import type { EncryptionSwitchStore } from '../ports/encryption-switches.ts';
import type { PortOptions } from './reconcile-ports.ts';

export function switchPortsFor(
  config: RekeyConfig,
  deps: ReconcileDeps,
  { connection }: Pick<PortOptions, 'connection'> = {},
): { deps: SwitchDeps; switches: EncryptionSwitchStore; close(): void } {
  const conn = connection ?? loadConnection(config);
  const rest = createRestClient(conn, { maxSockets: 4 });
  const { core, coordination } = typedApi(rest);
  return {
    deps: {
      revisions: createConfigRevisionStore(core, { namespace: stateNamespaceOf(config) }),
      nodes: createNodeConfigWrites(core, {
        namespace: config.REKEY_NAMESPACE,
        leases: coordination,
      }),
      apiservers: createConfigHashReader({
        rest,
        coordination,
        apiserverUrls: config.REKEY_APISERVER_URLS,
        fallbackServer: conn.server,
        clock: deps.clock,
      }),
      rewriter: deps.rewriter,
      scanner: deps.scanner,
      served: deps.served,
      clock: deps.clock,
      pageSize: config.REKEY_PAGE_SIZE,
      concurrency: maxConcurrencyOf(config),
      // the measured rewriter reports to this limit: stage 3 runs under it too
      ...(deps.limit ? { limit: deps.limit } : {}),
      ...(deps.log ? { log: deps.log } : {}),
    },
    switches: createEncryptionSwitchStore(rest),
    close: () => rest.close(),
  };
}
