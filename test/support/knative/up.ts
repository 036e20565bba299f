// `sandbox up --knative`: the real Knative Eventing data plane on a running sandbox, with rekey's
// infra/ installed through its sandbox overlay and rekey's four functions running as the
// Knative Services it defines. Real: the Broker's ingress and filter, the InMemoryChannel
// dispatcher, the PingSource and ApiServerSource adapters (Knative 1.22, built from their Go
// module), the Triggers, filters and delivery policies as deployed. Written by the harness: what
// Knative's controllers would write (controllers.ts).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DeployedName, FUNCTIONS, serviceAccountKubeConfig } from '../deployed-functions.ts';
import type { Manifest } from '../infra/manifests.ts';
import { kubeConfig } from '../kube.ts';
import { type KnativeEnv, type SandboxEnv, writeEnv } from '../sandbox/env-file.ts';
import { freePort, waitFor } from '../sandbox/net.ts';
import { isAlive } from '../sandbox/processes.ts';
import { ensureKnativePrograms, knativeEventingSource } from './build.ts';
import {
  BROKER_NAMESPACE,
  brokerUrl,
  type EventingAddresses,
  sourceNamespaces,
  writeEventingStatuses,
  writeServiceStatuses,
  writeSourceStatuses,
} from './controllers.ts';
import { createInfra, renderSandboxOverlay, settingsOf } from './infra.ts';
import { installKnative } from './install.ts';
import { kubectl } from './kubectl.ts';
import {
  DISPATCHER_PORTS,
  type ProgramStart,
  portFree,
  startDeadLetters,
  startFunction,
  startProgram,
  waitListening,
} from './processes.ts';

export interface KnativeUpOptions {
  log?: (line: string) => void;
  /**
   * Knative Service name -> an address to write for it instead of starting its process (a test's
   * own receiver in place of a function or the dead-letter sink).
   */
  serviceUrls?: Record<string, string>;
  /**
   * Knative Service name -> settings for its process on top of what the overlay gives it (a
   * test's own values: a KMS key, credentials, a webhook secret).
   */
  settings?: Record<string, Record<string, string>>;
}

/** Settings the sandbox decides itself, whatever the overlay says. */
const SANDBOX_DECIDES = new Set(['REKEY_RESOURCES', 'REKEY_APISERVER_URLS']);

/** What the Knative Service's container gets: the settings ConfigMap, then its own env values. */
function containerSettings(objects: readonly Manifest[], service: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(settingsOf(objects))) {
    if (v !== '' && !SANDBOX_DECIDES.has(k)) out[k] = v;
  }
  const svc = objects.find(
    (o) =>
      o.kind === 'Service' &&
      o.apiVersion?.startsWith('serving.knative.dev/') &&
      o.metadata?.name === service,
  ) as
    | {
        spec?: {
          template?: { spec?: { containers?: { env?: { name: string; value?: string }[] }[] } };
        };
      }
    | undefined;
  for (const e of svc?.spec?.template?.spec?.containers?.[0]?.env ?? []) {
    if (e.value !== undefined) out[e.name] = e.value;
  }
  return out;
}

function knativeServices(objects: readonly Manifest[]): string[] {
  return objects
    .filter((o) => o.kind === 'Service' && o.apiVersion?.startsWith('serving.knative.dev/'))
    .map((o) => o.metadata?.name as string)
    .sort();
}

/** The receive adapter's configuration, as Knative's ApiServerSource controller derives it. */
function apiServerSourceConfig(env: SandboxEnv, name: string): string {
  const src = JSON.parse(
    kubectl(env, [
      'get',
      'apiserversources.sources.knative.dev',
      name,
      '-n',
      BROKER_NAMESPACE,
      '-o',
      'json',
    ]),
  ) as {
    spec: {
      mode?: string;
      namespaceSelector?: { matchLabels?: Record<string, string> };
      resources: {
        apiVersion: string;
        kind: string;
        selector?: { matchLabels?: Record<string, string> };
      }[];
    };
  };
  const plural = (kind: string) => `${kind.toLowerCase()}s`;
  return JSON.stringify({
    namespaces: sourceNamespaces(src.spec),
    allNamespaces: false,
    mode: src.spec.mode ?? 'Reference',
    resources: src.spec.resources.map((r) => {
      const [group, version] = r.apiVersion.includes('/')
        ? r.apiVersion.split('/')
        : ['', r.apiVersion];
      const labels = Object.entries(r.selector?.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
      return {
        gvr: { Group: group, Version: version, Resource: plural(r.kind) },
        ...(labels.length ? { selector: labels.sort().join(',') } : {}),
      };
    }),
  });
}

/** Starts the Knative tier on the sandbox `env` (already up); records it in env.json. */
export async function upKnative(env: SandboxEnv, o: KnativeUpOptions = {}): Promise<KnativeEnv> {
  const log = o.log ?? (() => {});
  const serviceUrls = o.serviceUrls ?? {};
  const started = Date.now();
  for (const port of DISPATCHER_PORTS) {
    if (!(await portFree(port))) {
      throw new Error(
        `port ${port} is in use: Knative's InMemoryChannel dispatcher always listens on ` +
          `${DISPATCHER_PORTS.join(' and ')}, so one Knative sandbox runs per network ` +
          '(tests run theirs in a private network namespace)',
      );
    }
  }
  const programs = ensureKnativePrograms({ log });
  const logDir = join(env.dir, 'logs');
  const track = (rec: { name: string; pid: number; log: string }) => {
    env.processes.push(rec);
    writeEnv(env);
  };

  log('installing Knative Eventing CRDs and ConfigMaps, Serving CRDs');
  installKnative(env, knativeEventingSource());
  log('installing infra/ through infra/overlays/sandbox');
  const objects = renderSandboxOverlay(env);
  const admin = kubeConfig(env);
  await createInfra(admin, objects);

  const knativeKubeconfig = join(env.dir, 'kubeconfig-knative');
  writeFileSync(knativeKubeconfig, admin.exportConfig(), { mode: 0o600 });
  const addresses: EventingAddresses = {
    ingress: `http://127.0.0.1:${await freePort()}`,
    filter: `http://127.0.0.1:${await freePort()}`,
    dispatcher: `http://127.0.0.1:${DISPATCHER_PORTS[0]}`,
    services: {},
  };
  const portOf = (url: string) => Number(new URL(url).port);
  const broker = brokerUrl(addresses);

  // the Knative Services: rekey's functions under their own identities, and the dead-letter sink
  const functionPorts: Partial<Record<DeployedName, number>> = {};
  for (const svc of knativeServices(objects)) {
    const given = serviceUrls[svc];
    if (given) {
      addresses.services[svc] = given;
      continue;
    }
    const port = await freePort();
    addresses.services[svc] = `http://127.0.0.1:${port}`;
    const fn = svc.replace(/^rekey-/, '') as DeployedName;
    if (svc === 'rekey-dead-letters') {
      startDeadLetters(port, logDir, track);
    } else if ((FUNCTIONS as readonly string[]).includes(fn)) {
      const kc = await serviceAccountKubeConfig(env, `rekey-${fn}`, 48 * 3600);
      const file = join(env.dir, `kubeconfig-sa-${fn}`);
      writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
      log(`starting rekey ${fn} as ServiceAccount rekey-${fn} on port ${port}`);
      startFunction(env, fn, {
        kubeconfig: file,
        sink: broker,
        port,
        settings: { ...containerSettings(objects, svc), ...o.settings?.[svc] },
        logDir,
        track,
      });
      functionPorts[fn] = port;
    } else {
      throw new Error(`infra/ has a Knative Service ${svc} the sandbox cannot run`);
    }
  }

  const s: ProgramStart = { programs, logDir, kubeconfig: knativeKubeconfig, track };
  log('starting the InMemoryChannel dispatcher, the Broker ingress and filter');
  const dispatcher = startProgram(s, 'channel_dispatcher', 'dispatcher', await freePort(), {
    // its Deployment sets none: a NAMESPACE would confine it to that namespace's channels
    NAMESPACE: '',
    MAX_IDLE_CONNS: '1000',
    MAX_IDLE_CONNS_PER_HOST: '1000',
  });
  // first: the other programs' health probes also default to 8080 (theirs fail quietly)
  await waitListening('the InMemoryChannel dispatcher', DISPATCHER_PORTS[0], dispatcher);
  const ingress = startProgram(s, 'ingress', 'ingress', await freePort(), {
    INGRESS_PORT: String(portOf(addresses.ingress)),
    INGRESS_PORT_HTTPS: String(await freePort()),
  });
  const filter = startProgram(s, 'filter', 'filter', await freePort(), {
    FILTER_PORT: String(portOf(addresses.filter)),
    FILTER_PORT_HTTPS: String(await freePort()),
  });
  await waitListening('the Broker ingress', portOf(addresses.ingress), ingress);
  await waitListening('the Broker filter', portOf(addresses.filter), filter);

  log('writing what the Serving and Eventing controllers would write');
  writeServiceStatuses(env, addresses);
  writeEventingStatuses(env, addresses);
  writeSourceStatuses(env, addresses);

  log('starting the PingSource and ApiServerSource adapters');
  startProgram(s, 'mtping', 'dispatcher', await freePort(), {
    K_SINK_TIMEOUT: '-1',
    K_OBSERVABILITY_CONFIG: '{}',
  });
  const sourceKc = await serviceAccountKubeConfig(env, 'rekey-apiserver-source', 48 * 3600);
  const sourceFile = join(env.dir, 'kubeconfig-sa-apiserver-source');
  writeFileSync(sourceFile, sourceKc.exportConfig(), { mode: 0o600 });
  // one adapter per ApiServerSource, as Knative's controller deploys them
  const sources = JSON.parse(
    kubectl(env, [
      'get',
      'apiserversources.sources.knative.dev',
      '-n',
      BROKER_NAMESPACE,
      '-o',
      'json',
    ]),
  ) as { items: { metadata: { name: string } }[] };
  for (const { metadata } of sources.items) {
    startProgram(
      s,
      'apiserver_receive_adapter',
      'receive-adapter',
      await freePort(),
      {
        K_SINK: broker,
        K_SOURCE_CONFIG: apiServerSourceConfig(env, metadata.name),
        NAMESPACE: BROKER_NAMESPACE,
        NAME: metadata.name,
        METRICS_DOMAIN: 'knative.dev/eventing',
      },
      sourceFile,
      metadata.name,
    );
  }

  for (const [fn, port] of Object.entries(functionPorts)) {
    await waitFor(
      `rekey ${fn} /healthz`,
      async () =>
        (await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined))?.ok
          ? true
          : undefined,
      { timeoutMs: 120_000 },
    );
  }
  const dead = env.processes.filter((p) => !isAlive(p.pid));
  if (dead.length > 0) {
    throw new Error(
      `exited during start-up: ${dead.map((p) => `${p.name} (${p.log})`).join(', ')}`,
    );
  }
  env.knative = {
    brokerUrl: broker,
    ingressUrl: addresses.ingress,
    filterUrl: addresses.filter,
    dispatcherUrl: addresses.dispatcher,
    services: addresses.services,
  };
  writeEnv(env);
  log(`Knative tier up in ${((Date.now() - started) / 1000).toFixed(1)} s; Broker ${broker}`);
  return env.knative;
}

/** The addresses the controllers' statuses are written from, as env.json records them. */
export function addressesOf(k: KnativeEnv): EventingAddresses {
  return {
    ingress: k.ingressUrl,
    filter: k.filterUrl,
    dispatcher: k.dispatcherUrl,
    services: k.services,
  };
}
