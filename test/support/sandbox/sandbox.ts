// The sandbox's verbs: up, down, status, rotate, and plugin stop/start and apiserver and etcd
// restarts for fault injection.
// Each verb reads and writes env.json, so they work across processes (the CLI, tests).
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { ensureOpenbao } from '../openbao/install.ts';
import { startOpenbao } from '../openbao/server.ts';
import { ensureBinaries } from './build.ts';
import {
  type PluginBackend,
  startApiserver,
  startEtcd,
  startEtcdWithArgs,
  startPlugin,
  startReporter,
} from './components.ts';
import {
  writeEncryptionConfig,
  writeIdentities,
  writeKubeconfig,
  writeServiceAccountKeys,
} from './config-files.ts';
import {
  customResourcesFor,
  DEFAULT_ENCRYPT,
  validateEncryptResources,
} from './encrypt-resources.ts';
import {
  type ApiserverEnv,
  defaultSandboxDir,
  envPath,
  readEnv,
  type SandboxEnv,
  writeEnv,
} from './env-file.ts';
import { installCrds } from './install-crds.ts';
import { installInfraBase } from './install-infra.ts';
import {
  type ManagedInitial,
  managedConfigFile,
  SECOND_PROVIDER_NAME,
  secondPlugin,
  writeIdentityEncryptionConfig,
} from './managed-encryption.ts';
import { freePort, waitFor } from './net.ts';
import { createPki } from './pki.ts';
import { privateAddresses } from './private-network.ts';
import { commandLine, isAlive, type ProcessRecord, stopProcess } from './processes.ts';

/** How often a managed-encryption sandbox's apiservers re-read their configuration (upstream: 1m). */
const MANAGED_CONFIG_POLL = '5s';

export const PROVIDER_NAME = 'sandbox-kms';
export const ETCD_PREFIX = '/registry';
const SERVICE_IP = '10.0.0.1'; // first address of --service-cluster-ip-range
const SERVICE_DNS = ['localhost', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc'];

export interface UpOptions {
  dir?: string;
  apiservers?: number;
  /**
   * EncryptionConfiguration resource names the KMS provider encrypts (`secrets`, `deployments.apps`,
   * `widgets.example.com`, `*.`, `*.*`); default secrets and configmaps. A `<plural>.<group>` of a
   * non-built-in group also gets a CRD, so objects of it can be created.
   */
  encrypt?: readonly string[];
  /** A cloud KMS endpoint behind the plugins (AWS or GCP, local); default the file keyring. */
  pluginBackend?: PluginBackend;
  /**
   * `openbao`: start an OpenBao dev server with a transit key and put it behind the plugins
   * (key_id = the key's latest version); default `keyring`. Not with `pluginBackend`.
   */
  kms?: SandboxKms;
  /** Extra kube-apiserver flags, after the sandbox's own (e.g. `--feature-gates=...`); default none. */
  apiserverArgs?: readonly string[];
  /**
   * Files rekey may change (see managed-encryption.ts): each in its own directory, starting as
   * `identity` or the kms provider, with a second plugin per apiserver for `sandbox-kms-b`.
   */
  managedEncryption?: { initial: ManagedInitial } | undefined;
  log?: (line: string) => void;
}

function apiserverHosts(n: number): string[] {
  // in a private network (private-network.ts), non-loopback addresses the `kubernetes`
  // EndpointSlice accepts, so rekey's endpoint discovery finds every apiserver
  const own = privateAddresses();
  if (own) {
    if (own.length < n)
      throw new Error(`the private network has ${own.length} addresses, not ${n}`);
    return own.slice(0, n);
  }
  // One apiserver on the usual loopback address; an HA pair each on its own, same port.
  return n === 1 ? ['127.0.0.1'] : Array.from({ length: n }, (_, i) => `127.0.0.${i + 2}`);
}

export const SANDBOX_KMS = ['keyring', 'openbao'] as const;
export type SandboxKms = (typeof SANDBOX_KMS)[number];

/** Starts etcd, one KMS plugin per apiserver over a shared keyring, and the apiservers. */
export async function up({
  dir = defaultSandboxDir(),
  apiservers = 1,
  encrypt = DEFAULT_ENCRYPT,
  pluginBackend,
  kms = 'keyring',
  apiserverArgs = [],
  managedEncryption,
  log = () => {},
}: UpOptions = {}): Promise<SandboxEnv> {
  if (kms !== 'keyring' && pluginBackend) {
    throw new Error(`--kms ${kms} starts its own KMS: it cannot be combined with another backend`);
  }
  dir = resolve(dir);
  if (!Number.isInteger(apiservers) || apiservers < 1 || apiservers > 5) {
    throw new Error(`--apiservers must be a whole number from 1 to 5, got ${apiservers}`);
  }
  const resources = validateEncryptResources(encrypt);
  if (existsSync(envPath(dir))) {
    const old = readEnv(dir);
    if (old.processes.some((p) => isAlive(p.pid))) {
      throw new Error(`a sandbox is already up in ${dir}: run \`npm run sandbox -- down\` first`);
    }
    await down({ dir });
  }
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const binaries = ensureBinaries({ log });
  const bao = kms === 'openbao' ? ensureOpenbao({ log }) : undefined;
  const tmpDir = mkdtempSync(join(tmpdir(), 'rekey-sandbox-'));
  const keyringDir = join(dir, 'keyring');
  rmSync(keyringDir, { recursive: true, force: true }); // a new sandbox starts at local-1
  const ids = writeIdentities(dir);
  const sa = writeServiceAccountKeys(dir);
  const pki = await createPki(dir);
  const logDir = join(dir, 'logs');
  const hosts = apiserverHosts(apiservers);
  const port = await freePort(hosts);

  const env: SandboxEnv = {
    version: 1,
    dir,
    kubeconfig: join(dir, 'kubeconfig'),
    apiservers: [],
    etcd: { url: '', prefix: ETCD_PREFIX },
    kms: {
      providerName: PROVIDER_NAME,
      keyringDir,
      ...(pluginBackend ? { backend: pluginBackend } : {}),
    },
    resources,
    encrypt: resources,
    ...(apiserverArgs.length > 0 ? { apiserverArgs: [...apiserverArgs] } : {}),
    tokens: { adminFile: ids.adminFile, rekeyFile: ids.rekeyFile },
    tmpDir,
    processes: [],
    binaries,
  };
  const track = (rec: ProcessRecord) => {
    env.processes.push(rec);
    writeEnv(env); // so that `down` can clean up even after a failed `up`
  };

  try {
    log('starting etcd');
    env.etcd.url = await startEtcd(binaries.etcd, { dataDir: join(tmpDir, 'etcd'), logDir }, track);
    if (bao) {
      log('starting an OpenBao dev server with a transit key');
      const server = await startOpenbao(bao, { dir, logDir }, track);
      pluginBackend = {
        kind: 'transit',
        endpoint: server.address,
        key: server.key,
        tokenFile: server.tokenFile,
      };
      env.kms.backend = pluginBackend;
      writeEnv(env);
    }

    const planned = hosts.map((host, i) => {
      const name = `apiserver-${i}`;
      const socket = join(tmpDir, `kms-${i}.sock`);
      const encryptionConfig = managedEncryption
        ? managedConfigFile(dir, i)
        : join(dir, `encryption-config-${i}.yaml`);
      if (managedEncryption?.initial === 'identity') {
        writeIdentityEncryptionConfig(encryptionConfig, resources);
      } else {
        writeEncryptionConfig(encryptionConfig, { providerName: PROVIDER_NAME, socket, resources });
      }
      return {
        name,
        host,
        port,
        hostname: `rekey-sandbox-${name}`,
        encryptionConfig,
        socket,
        instance: `p${i}`,
      };
    });
    for (const p of planned) {
      log(`starting KMS v2 plugin ${p.instance} on ${p.socket}`);
      await startPlugin(
        { instance: p.instance, socket: p.socket, keyringDir, logDir, backend: pluginBackend },
        track,
      );
    }
    if (managedEncryption) {
      const secondKeyringDir = join(dir, 'keyring-b');
      rmSync(secondKeyringDir, { recursive: true, force: true });
      const second = planned.map((_, i) => secondPlugin(tmpDir, i));
      for (const b of second) {
        log(`starting KMS v2 plugin ${b.instance} (${SECOND_PROVIDER_NAME}) on ${b.socket}`);
        await startPlugin(
          { instance: b.instance, socket: b.socket, keyringDir: secondKeyringDir, logDir },
          track,
        );
      }
      env.managedEncryption = {
        initial: managedEncryption.initial,
        secondProvider: SECOND_PROVIDER_NAME,
        secondKeyringDir,
        secondSockets: second.map((b) => b.socket),
      };
    }
    log(`starting ${apiservers} kube-apiserver(s) on port ${port}`);
    const started = await Promise.all(
      planned.map(async (p) => {
        const tls = await pki.issueServing(p.name, [p.host, SERVICE_IP], SERVICE_DNS);
        await startApiserver(
          binaries['kube-apiserver'],
          p,
          tls,
          {
            etcdUrl: env.etcd.url,
            etcdPrefix: ETCD_PREFIX,
            tokenFile: ids.tokenFile,
            saKey: sa.key,
            saPub: sa.pub,
            logDir,
            adminToken: ids.adminToken,
            caFile: pki.caFile,
            ...(managedEncryption ? { encryptionConfigPoll: MANAGED_CONFIG_POLL } : {}),
          },
          track,
          apiserverArgs,
        );
        return p;
      }),
    );
    env.apiservers = started.map(
      (p): ApiserverEnv => ({
        name: p.name,
        url: `https://${p.host}:${p.port}`,
        host: p.host,
        port: p.port,
        hostname: p.hostname,
        caFile: pki.caFile,
        context: p.name,
        encryptionConfig: p.encryptionConfig,
        plugin: { instance: p.instance, socket: p.socket },
      }),
    );
    writeKubeconfig(env.kubeconfig, {
      clusters: env.apiservers.map((a) => ({
        name: a.name,
        url: a.url,
        caData: Buffer.from(pki.caPem).toString('base64'),
      })),
      adminToken: ids.adminToken,
      rekeyToken: ids.rekeyToken,
      reporterToken: ids.reporterToken,
    });
    const kc = new KubeConfig();
    kc.loadFromFile(env.kubeconfig);
    await installInfraBase(kc);
    const crds = customResourcesFor(resources);
    if (crds.length > 0) {
      log(`installing CRD(s) ${crds.map((c) => c.name).join(', ')}`);
      await installCrds(kc, crds, { apiservers: env.apiservers, adminToken: ids.adminToken });
    }
    for (const a of env.apiservers) {
      const kubeconfig = join(dir, `kubeconfig-reporter-${a.name}`);
      writeKubeconfig(kubeconfig, {
        clusters: [{ name: a.name, url: a.url, caData: Buffer.from(pki.caPem).toString('base64') }],
        adminToken: ids.adminToken,
        rekeyToken: ids.rekeyToken,
        reporterToken: ids.reporterToken,
        currentContext: `key-id-reporter@${a.name}`,
      });
      startReporter(
        {
          node: a.hostname,
          socket: a.plugin.socket,
          provider: PROVIDER_NAME,
          kubeconfig,
          logDir,
          encryptionConfig: a.encryptionConfig,
        },
        track,
      );
    }
    // a sandbox is up once every reporter has written its first report: before that, rekey would
    // see no report at all and fall back to the apiservers' metrics (a hash-only revision)
    log('waiting for the first key-id report of each apiserver');
    const core = kc.makeApiClient(CoreV1Api);
    await waitFor(
      `a key-id report from each of ${env.apiservers.length} reporter(s)`,
      async () => {
        const reports = await core.listNamespacedConfigMap({
          namespace: 'rekey-system',
          labelSelector: 'rekey.dev/key-id-report=true',
        });
        return reports.items.length >= env.apiservers.length ? true : undefined;
      },
      { timeoutMs: 120_000 },
    );
    writeEnv(env);
    return env;
  } catch (err) {
    await down({ dir }).catch(() => {});
    throw err;
  }
}

/** Stops every process of the sandbox and removes its temporary data. Idempotent. */
export async function down({ dir = defaultSandboxDir() }: { dir?: string } = {}): Promise<void> {
  if (!existsSync(envPath(dir))) return;
  const env = readEnv(dir);
  // apiservers first, so they do not log storms about a vanished etcd or plugin
  const order = [...env.processes].sort((a, b) => rank(a) - rank(b));
  for (const p of order) await stopProcess(p);
  rmSync(env.tmpDir, { recursive: true, force: true });
  rmSync(envPath(dir), { force: true });
}

function rank(p: ProcessRecord): number {
  if (p.name.startsWith('apiserver')) return 0;
  if (p.name.startsWith('kms-plugin')) return 1;
  return 2;
}

function pluginRecord(env: SandboxEnv, i: number): { a: ApiserverEnv; rec?: ProcessRecord } {
  const a = env.apiservers[i];
  if (!a) throw new Error(`no apiserver ${i}: this sandbox has ${env.apiservers.length}`);
  const rec = env.processes.find((p) => p.name === `kms-plugin-${a.plugin.instance}`);
  return rec ? { a, rec } : { a };
}

/** Stops the KMS plugin next to apiserver `i` (fault injection). */
export async function pluginStop({ dir = defaultSandboxDir(), index = 0 } = {}): Promise<void> {
  const env = readEnv(dir);
  const { rec } = pluginRecord(env, index);
  if (rec) await stopProcess(rec);
  env.processes = env.processes.filter((p) => p !== rec && p.pid !== rec?.pid);
  writeEnv(env);
}

/** Starts the KMS plugin next to apiserver `i` again, on the same keyring and socket. */
export async function pluginStart({ dir = defaultSandboxDir(), index = 0 } = {}): Promise<void> {
  const env = readEnv(dir);
  const { a, rec } = pluginRecord(env, index);
  if (rec && isAlive(rec.pid)) return;
  const name = `kms-plugin-${a.plugin.instance}`;
  await startPlugin(
    {
      instance: a.plugin.instance,
      socket: a.plugin.socket,
      keyringDir: env.kms.keyringDir,
      logDir: join(env.dir, 'logs'),
      backend: env.kms.backend,
    },
    replaceRecord(env, name),
  );
}

/** Replaces the record named `name` in env.json by a started one (a restarted process). */
function replaceRecord(env: SandboxEnv, name: string): (rec: ProcessRecord) => void {
  return (started) => {
    env.processes = [...env.processes.filter((p) => p.name !== name), started];
    writeEnv(env);
  };
}

/**
 * Restarts kube-apiserver `i` (fault injection): SIGTERM, `pauseMs` down, then the same flags,
 * hostname, address, port and files as `up` gave it. Resolves once it is ready again.
 */
export async function apiserverRestart({ dir = defaultSandboxDir(), index = 0, pauseMs = 0 } = {}) {
  const env = readEnv(dir);
  const a = env.apiservers[index];
  const bin = env.binaries['kube-apiserver'];
  if (!a || !bin) throw new Error(`no apiserver ${index} in ${dir}`);
  const rec = env.processes.find((p) => p.name === a.name);
  if (rec) await stopProcess(rec);
  await new Promise((r) => setTimeout(r, pauseMs));
  const tls = { certFile: join(env.dir, `${a.name}.crt`), keyFile: join(env.dir, `${a.name}.key`) };
  const files = {
    etcdUrl: env.etcd.url,
    etcdPrefix: env.etcd.prefix,
    tokenFile: join(env.dir, 'tokens.csv'),
    saKey: join(env.dir, 'sa.key'),
    saPub: join(env.dir, 'sa.pub'),
    logDir: join(env.dir, 'logs'),
    caFile: a.caFile,
    adminToken: readFileSync(env.tokens.adminFile, 'utf8').trim(),
    ...(env.managedEncryption ? { encryptionConfigPoll: MANAGED_CONFIG_POLL } : {}),
  };
  await startApiserver(bin, a, tls, files, replaceRecord(env, a.name), env.apiserverArgs);
}

/** Restarts etcd (fault injection) with the arguments it ran with: same ports, same data dir. */
export async function etcdRestart({ dir = defaultSandboxDir(), pauseMs = 0 } = {}): Promise<void> {
  const env = readEnv(dir);
  const rec = env.processes.find((p) => p.name === 'etcd');
  if (!rec || !isAlive(rec.pid)) throw new Error(`etcd is not running in ${dir}`);
  const [binary = '', ...args] = commandLine(rec.pid);
  await stopProcess(rec);
  await new Promise((r) => setTimeout(r, pauseMs));
  const logDir = join(env.dir, 'logs');
  await startEtcdWithArgs(binary, args, { url: env.etcd.url, logDir }, replaceRecord(env, 'etcd'));
}

export {
  type ApiserverKeyStatus,
  pokeKmsHealth,
  rotate,
  status,
  waitForKeyId,
} from './key-status.ts';
export { readEnv };
