// Composition root of the key-id reporter, which runs next to the KMS v2 plugin on each
// control-plane node: reads the environment, builds the plugin and Kubernetes clients, and
// reports until SIGTERM/SIGINT. The only file of the reporter that touches process or env.
import { hostname } from 'node:os';
import { pino } from 'pino';
import { z } from 'zod';
import { type Connection, loadConnection } from '../../shared/adapters/k8s/connection.ts';
import { reportName, writeReport } from '../../shared/adapters/k8s/key-id-reports.ts';
import { createLivenessRenewer } from '../../shared/adapters/k8s/report-liveness.ts';
import { createRestClient } from '../../shared/adapters/k8s/rest-client.ts';
import { typedApi } from '../../shared/adapters/k8s/typed-api.ts';
import { createKmsPluginClient } from '../../shared/adapters/kms-plugin/status-client.ts';
import { systemClock } from '../../shared/ports/clock.ts';
import { createConfigWriter, parseKmsEndpoints } from './config-writer.ts';
import { runReporter } from './run-loop.ts';
import { configSourceOf } from './write-mode.ts';

// Exit codes as for the rekey CLI: 2 = configuration error.
const EXIT_CONFIG = 2;
const EXIT_FAILURE = 1;

const required = (what: string) =>
  z.string({ error: `is required: ${what}` }).min(1, `is required: ${what}`);

const schema = z.object({
  KMS_PLUGIN_SOCKET: required('the KMS v2 plugin unix socket path'),
  REKEY_PROVIDER: required('the kms provider name in the EncryptionConfiguration'),
  NODE_NAME: z.string().min(1).default(hostname()),
  REKEY_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')
    .default('rekey-system'),
  REPORT_INTERVAL_SECONDS: z.coerce
    .number({ error: 'must be a number of seconds' })
    .positive('must be more than 0 seconds')
    .max(3600, 'must be at most 3600 seconds, or rekey will consider the reports stale')
    .default(15),
  KUBECONFIG: z.string().min(1).optional(),
  // The apiserver's --encryption-provider-config, mounted read-only; rekey's scope comes from it.
  ENCRYPTION_CONFIG_FILE: z.string().min(1).optional(),
  // Write mode (opt-in, control-plane nodes only): this agent writes rekey's configuration
  // revisions to REKEY_CONFIG_FILE (default ENCRYPTION_CONFIG_FILE), in a mounted directory.
  REKEY_CONFIG_WRITE: z.enum(['true', 'false'], { error: 'must be true or false' }).optional(),
  REKEY_CONFIG_FILE: z.string().min(1).optional(),
  // `name=unix:///socket,...`: this node's plugin endpoint per kms provider name
  REKEY_KMS_ENDPOINTS: z.string().optional(),
  // where rekey keeps its revisions (REKEY_STATE_NAMESPACE of rekey; default REKEY_NAMESPACE)
  REKEY_STATE_NAMESPACE: z.string().min(1).optional(),
});

// A DaemonSet often sets optional variables to '' rather than leaving them out.
function unsetEmpty(env: NodeJS.ProcessEnv): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined && e[1] !== ''),
  );
}

const log = pino({ name: 'key-id-reporter', base: { pid: process.pid } });

function fail(code: number, msg: string, fields: object = {}): never {
  log.fatal(fields, msg);
  process.exit(code);
}

const parsed = schema.safeParse(unsetEmpty(process.env));
if (!parsed.success) {
  const problems = parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`);
  fail(EXIT_CONFIG, `invalid configuration: ${problems.join('; ')}`, { problems });
}
const config = parsed.data;
const writeMode = config.REKEY_CONFIG_WRITE === 'true';
const configFile = config.REKEY_CONFIG_FILE ?? config.ENCRYPTION_CONFIG_FILE;
let kmsEndpoints: Record<string, string> = {};
if (writeMode) {
  if (!configFile) {
    fail(EXIT_CONFIG, 'invalid configuration: REKEY_CONFIG_WRITE=true needs REKEY_CONFIG_FILE');
  }
  try {
    kmsEndpoints = parseKmsEndpoints(config.REKEY_KMS_ENDPOINTS);
  } catch (err) {
    fail(EXIT_CONFIG, `invalid configuration: REKEY_KMS_ENDPOINTS ${(err as Error).message}`);
  }
}

let connection: Connection;
try {
  // in a pod (KUBECONFIG unset): its ServiceAccount; otherwise a clear exit, not failing writes
  connection = loadConnection(config);
} catch (err) {
  fail(EXIT_CONFIG, `invalid configuration: ${(err as Error).message}`);
}
const rest = createRestClient(connection, { maxSockets: 2 });
const { core: api, coordination } = typedApi(rest);
const plugin = createKmsPluginClient({ socketPath: config.KMS_PLUGIN_SOCKET });

const controller = new AbortController();
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    log.info({ signal }, 'stopping');
    controller.abort();
  });
}

log.info(
  {
    node: config.NODE_NAME,
    provider: config.REKEY_PROVIDER,
    namespace: config.REKEY_NAMESPACE,
    socket: config.KMS_PLUGIN_SOCKET,
    intervalSeconds: config.REPORT_INTERVAL_SECONDS,
    encryptionConfigFile: config.ENCRYPTION_CONFIG_FILE ?? null,
    configWrite: writeMode ? { file: configFile, kmsProviders: Object.keys(kmsEndpoints) } : null,
  },
  'key-id reporter starting',
);

// the report is written when it changes; this Lease (watched by nothing) is renewed each tick
const renew = createLivenessRenewer(coordination, config.REKEY_NAMESPACE, {
  name: reportName(config.NODE_NAME, config.REKEY_PROVIDER),
  node: config.NODE_NAME,
  provider: config.REKEY_PROVIDER,
});

try {
  await runReporter({
    plugin,
    write: (report) => writeReport(api, config.REKEY_NAMESPACE, report),
    // the report is written when it changes; this Lease (watched by nothing) is renewed each tick
    liveness: { lease: reportName(config.NODE_NAME, config.REKEY_PROVIDER), renew },
    node: config.NODE_NAME,
    provider: config.REKEY_PROVIDER,
    clock: systemClock,
    intervalMs: config.REPORT_INTERVAL_SECONDS * 1000,
    ...(config.ENCRYPTION_CONFIG_FILE
      ? { encryptionConfigFile: config.ENCRYPTION_CONFIG_FILE }
      : {}),
    signal: controller.signal,
    log,
    ...(writeMode && configFile
      ? {
          configWrite: createConfigWriter({
            source: configSourceOf(api, config.REKEY_STATE_NAMESPACE ?? config.REKEY_NAMESPACE),
            file: configFile,
            kmsEndpoints,
            log,
          }).tick,
        }
      : {}),
  });
} catch (err) {
  fail(EXIT_FAILURE, 'key-id reporter crashed', { err: (err as Error).message });
} finally {
  plugin.close();
  rest.close();
}
log.info({}, 'key-id reporter stopped');
// Keep-alive sockets of the Kubernetes client would otherwise hold the process open.
process.exit(0);
