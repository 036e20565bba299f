// The sandbox's contract with its users: `.sandbox/env.json` says where everything is.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';

const processRecord = z.object({ name: z.string(), pid: z.number().int(), log: z.string() });

const apiserver = z.object({
  name: z.string(),
  /** https URL of this apiserver. */
  url: z.string(),
  host: z.string(),
  port: z.number().int(),
  /** The hostname the apiserver runs under: its identity (Lease, apiserver_id_hash) derives from it. */
  hostname: z.string(),
  /** CA bundle that verifies this apiserver's self-signed serving certificate. */
  caFile: z.string(),
  /** kubeconfig context that talks to this apiserver. */
  context: z.string(),
  encryptionConfig: z.string(),
  plugin: z.object({ instance: z.string(), socket: z.string() }),
});

/** `up --knative`: where the Knative tier's Broker and data plane listen. */
const knative = z.object({
  /** The Broker's address (its ingress): the K_SINK of rekey's functions and sources. */
  brokerUrl: z.string(),
  ingressUrl: z.string(),
  filterUrl: z.string(),
  dispatcherUrl: z.string(),
  /** Knative Service name -> the local URL of the process serving it. */
  services: z.record(z.string(), z.string()),
});

export const sandboxEnv = z.object({
  version: z.literal(1),
  dir: z.string(),
  kubeconfig: z.string(),
  // empty while `up` is still starting them
  apiservers: z.array(apiserver),
  etcd: z.object({ url: z.string(), prefix: z.string() }),
  kms: z.object({
    providerName: z.string(),
    keyringDir: z.string(),
    /** A KMS behind the plugins (a local endpoint); absent = the file keyring. */
    backend: z
      .object({
        kind: z.enum(['aws', 'gcp', 'transit']),
        endpoint: z.string(),
        key: z.string(),
        /** transit: the file holding the Vault / OpenBao token. */
        tokenFile: z.string().optional(),
      })
      .optional(),
  }),
  /** What the EncryptionConfiguration encrypts (the older name of `encrypt`, same list). */
  resources: z.array(z.string()),
  /** `up --encrypt`: the EncryptionConfiguration's resources; absent in env files from before it. */
  encrypt: z.array(z.string()).optional(),
  /** `up`'s extra kube-apiserver flags, so that a restart passes them again; absent = none. */
  apiserverArgs: z.array(z.string()).optional(),
  tokens: z.object({ adminFile: z.string(), rekeyFile: z.string() }),
  /** `up --managed-encryption`: files rekey may change, and the second kms provider's plugins. */
  managedEncryption: z
    .object({
      initial: z.enum(['identity', 'kms']),
      secondProvider: z.string(),
      secondKeyringDir: z.string(),
      /** Per apiserver, in env.apiservers' order: its second plugin's socket. */
      secondSockets: z.array(z.string()),
    })
    .optional(),
  /** Temporary folder holding etcd data and plugin sockets, removed by `down`. */
  tmpDir: z.string(),
  processes: z.array(processRecord),
  binaries: z.record(z.string(), z.string()),
  knative: knative.optional(),
});

export type SandboxEnv = z.infer<typeof sandboxEnv>;
export type ApiserverEnv = z.infer<typeof apiserver>;
export type KnativeEnv = z.infer<typeof knative>;

export function defaultSandboxDir(): string {
  return resolve(process.env.REKEY_SANDBOX_DIR ?? '.sandbox');
}

export function envPath(dir: string): string {
  return join(dir, 'env.json');
}

export function writeEnv(env: SandboxEnv): void {
  mkdirSync(dirname(envPath(env.dir)), { recursive: true });
  writeFileSync(envPath(env.dir), `${JSON.stringify(env, null, 2)}\n`, { mode: 0o600 });
}

/** Reads and validates env.json; a clear error when there is no sandbox in `dir`. */
export function readEnv(dir: string = defaultSandboxDir()): SandboxEnv {
  let raw: string;
  try {
    raw = readFileSync(envPath(dir), 'utf8');
  } catch {
    throw new Error(`no sandbox in ${dir} (no env.json): run \`npm run sandbox -- up\` first`);
  }
  return sandboxEnv.parse(JSON.parse(raw));
}
