// Starts each real component of the sandbox: etcd, the KMS v2 plugin, kube-apiserver.
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createKmsPluginClient } from '../../../shared/adapters/kms-plugin/status-client.ts';
import { apiserverGet } from './apiserver-http.ts';
import type { ApiserverEnv } from './env-file.ts';
import { freePort, waitFor } from './net.ts';
import { isAlive, type ProcessRecord, startDetached } from './processes.ts';

const PLUGIN_MAIN = fileURLToPath(new URL('../kms-plugin/main.ts', import.meta.url));
const REPORTER_MAIN = fileURLToPath(
  new URL('../../../functions/key-id-reporter/main.ts', import.meta.url),
);

/** rekey's key-id reporter next to one plugin, as the DaemonSet runs it on a control-plane node. */
export function startReporter(
  {
    node,
    socket,
    provider,
    kubeconfig,
    logDir,
    encryptionConfig,
  }: {
    node: string;
    socket: string;
    provider: string;
    kubeconfig: string;
    logDir: string;
    /** This apiserver's EncryptionConfiguration, so the reporter can tell what it covers. */
    encryptionConfig: string;
  },
  track: Track,
): void {
  track(
    startDetached(`key-id-reporter-${node}`, process.execPath, [REPORTER_MAIN], {
      log: join(logDir, `key-id-reporter-${node}.log`),
      env: {
        ...process.env,
        KMS_PLUGIN_SOCKET: socket,
        REKEY_PROVIDER: provider,
        NODE_NAME: node,
        KUBECONFIG: kubeconfig,
        REPORT_INTERVAL_SECONDS: '2',
        ENCRYPTION_CONFIG_FILE: encryptionConfig,
      },
    }),
  );
}

function failIfDead(rec: ProcessRecord): void {
  if (!isAlive(rec.pid)) {
    const tail = existsSync(rec.log)
      ? readFileSync(rec.log, 'utf8').split('\n').slice(-15).join('\n')
      : '';
    throw new Error(`${rec.name} exited during start-up; last lines of ${rec.log}:\n${tail}`);
  }
}

function httpOk(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: 2000 }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.on('error', () => resolve(false));
    req.on('timeout', () => req.destroy());
    req.end();
  });
}

/** A KMS (its local endpoint) behind the sandbox plugins instead of the file keyring. */
export interface PluginBackend {
  /** `transit`: a Vault / OpenBao transit key (`key` is `<mount>/keys/<name>`, with `tokenFile`). */
  kind: 'aws' | 'gcp' | 'transit';
  endpoint: string;
  key: string;
  tokenFile?: string | undefined;
}

/** Called with each process as soon as it is spawned, so a failed start can still be cleaned up. */
export type Track = (rec: ProcessRecord) => void;

export async function startEtcd(
  binary: string,
  { dataDir, logDir }: { dataDir: string; logDir: string },
  track: Track,
): Promise<string> {
  const clientPort = await freePort();
  const peerPort = await freePort();
  const url = `http://127.0.0.1:${clientPort}`;
  const peer = `http://127.0.0.1:${peerPort}`;
  const args = [
    `--name=sandbox`,
    `--data-dir=${dataDir}`,
    `--listen-client-urls=${url}`,
    `--advertise-client-urls=${url}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=sandbox=${peer}`,
    '--log-level=warn',
  ];
  await startEtcdWithArgs(binary, args, { url, logDir }, track);
  return url;
}

/**
 * etcd with exactly these arguments, waiting until `url` is healthy. A restart passes the
 * arguments it ran with, so it comes back on the same ports over the same data dir.
 */
export async function startEtcdWithArgs(
  binary: string,
  args: readonly string[],
  { url, logDir }: { url: string; logDir: string },
  track: Track,
): Promise<void> {
  const rec = startDetached('etcd', binary, args, { log: join(logDir, 'etcd.log') });
  track(rec);
  await waitFor('etcd /health', async () => {
    failIfDead(rec);
    return (await httpOk(`${url}/health`)) ? true : undefined;
  });
}

/** The sandbox KMS v2 plugin as its own process, serving `socket` over the shared keyring. */
export async function startPlugin(
  {
    instance,
    socket,
    keyringDir,
    logDir,
    backend,
  }: {
    instance: string;
    socket: string;
    keyringDir: string;
    logDir: string;
    backend?: PluginBackend | undefined;
  },
  track: Track,
): Promise<void> {
  const cloud = backend
    ? [
        ...['--backend', backend.kind, '--endpoint', backend.endpoint, '--key', backend.key],
        ...(backend.tokenFile ? ['--token-file', backend.tokenFile] : []),
      ]
    : [];
  const rec = startDetached(
    `kms-plugin-${instance}`,
    process.execPath,
    [PLUGIN_MAIN, '--socket', socket, '--keyring', keyringDir, '--instance', instance, ...cloud],
    { log: join(logDir, `kms-plugin-${instance}.log`) },
  );
  track(rec);
  // A socket file alone proves nothing (a killed plugin leaves one behind): ask Status.
  const client = createKmsPluginClient({ socketPath: socket, timeoutMs: 1000 });
  try {
    await waitFor(`KMS plugin ${instance} Status`, async () => {
      failIfDead(rec);
      return existsSync(socket) ? await client.status() : undefined;
    });
  } finally {
    client.close();
  }
}

export interface ApiserverFiles {
  etcdUrl: string;
  etcdPrefix: string;
  tokenFile: string;
  saKey: string;
  saPub: string;
  logDir: string;
  caFile: string;
  adminToken: string;
  /**
   * How often the apiserver re-reads its EncryptionConfiguration (a Go duration; unset = upstream's
   * minute): shortened for managed-encryption sandboxes through the sandbox build's knob
   * (test/support/controlplane/cmd/kube-apiserver/main.go).
   */
  encryptionConfigPoll?: string;
}

/**
 * Runs kube-apiserver under its own hostname (a UTS namespace), because an apiserver's identity
 * (Lease and apiserver_id_hash) derives from the hostname: two apiservers on one machine would
 * otherwise share it.
 */
export async function startApiserver(
  binary: string,
  a: Pick<ApiserverEnv, 'name' | 'host' | 'port' | 'hostname' | 'encryptionConfig'>,
  tls: { certFile: string; keyFile: string },
  f: ApiserverFiles,
  track: Track,
  /** Appended to the sandbox's own flags (feature gates, runtime config): UpOptions.apiserverArgs. */
  extraArgs: readonly string[] = [],
): Promise<void> {
  const args = [
    `--etcd-servers=${f.etcdUrl}`,
    `--etcd-prefix=${f.etcdPrefix}`,
    `--bind-address=${a.host}`,
    `--advertise-address=${a.host}`,
    `--secure-port=${a.port}`,
    `--tls-cert-file=${tls.certFile}`,
    `--tls-private-key-file=${tls.keyFile}`,
    `--token-auth-file=${f.tokenFile}`,
    '--authorization-mode=RBAC',
    '--service-account-issuer=https://kubernetes.default.svc',
    `--service-account-signing-key-file=${f.saKey}`,
    `--service-account-key-file=${f.saPub}`,
    '--service-cluster-ip-range=10.0.0.0/24',
    `--encryption-provider-config=${a.encryptionConfig}`,
    '--encryption-provider-config-automatic-reload=true',
    '--profiling=false',
    '--v=1',
    ...extraArgs,
  ];
  const rec = startDetached(
    a.name,
    'unshare',
    // root may make a UTS namespace directly; anyone else through a user namespace
    [
      ...(process.getuid?.() === 0 ? [] : ['--user', '--map-root-user']),
      '--uts',
      '--',
      'sh',
      '-c',
      'hostname "$0" && exec "$@"',
      a.hostname,
      binary,
      ...args,
    ],
    {
      log: join(f.logDir, `${a.name}.log`),
      env: {
        ...process.env,
        ...(f.encryptionConfigPoll
          ? { REKEY_SANDBOX_ENCRYPTION_CONFIG_POLL: f.encryptionConfigPoll }
          : {}),
      },
    },
  );
  track(rec);
  await waitFor(
    `${a.name} /readyz`,
    async () => {
      failIfDead(rec);
      const r = await apiserverGet(
        { url: `https://${a.host}:${a.port}`, caFile: f.caFile },
        '/readyz',
        f.adminToken,
      );
      return r.status === 200 ? true : undefined;
    },
    { timeoutMs: 120_000, intervalMs: 500 },
  );
}
