// Where the apiserver is and how to authenticate to it, from a kubeconfig or from inside a pod.
// rekey reads this itself rather than through @kubernetes/client-node's KubeConfig, whose import
// alone costs about 70 MB of RSS (every generated API and model), more than rekey's whole working
// set. Kubeconfigs that authenticate with an exec plugin or an auth-provider (EKS, GKE, OIDC)
// are handed to client-node, loaded only then.
import { readFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { dirname, isAbsolute, join } from 'node:path';
import { parse } from 'yaml';
import { ConfigError } from '../../config/config.ts';

export interface Connection {
  /** The apiserver URL of the current context. */
  server: string;
  /** Puts TLS settings and credentials on a request about to be sent. */
  authorize(opts: RequestOptions): Promise<void>;
  /**
   * Present when the credentials can change under rekey (a token file, a projected ServiceAccount
   * token, an exec plugin): forget what was read, so the next request carries fresh ones. The REST
   * client calls it when the apiserver answers 401.
   */
  refresh?(): void;
}

const SA_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';
/** A projected ServiceAccount token is rotated by the kubelet: read it again this often. */
const TOKEN_REREAD_MS = 60_000;

interface KubeconfigCluster {
  server?: string;
  'certificate-authority'?: string;
  'certificate-authority-data'?: string;
  'insecure-skip-tls-verify'?: boolean;
  'tls-server-name'?: string;
}
interface KubeconfigUser {
  token?: string;
  tokenFile?: string;
  'client-certificate'?: string;
  'client-certificate-data'?: string;
  'client-key'?: string;
  'client-key-data'?: string;
  exec?: unknown;
  'auth-provider'?: unknown;
  username?: string;
}
interface Kubeconfig {
  'current-context'?: string;
  contexts?: { name: string; context?: { cluster?: string; user?: string } }[];
  clusters?: { name: string; cluster?: KubeconfigCluster }[];
  users?: { name: string; user?: KubeconfigUser }[];
}

/** A configuration problem (exit code 2 in the functions and the CLI), naming the kubeconfig. */
export class KubeconfigError extends ConfigError {
  override name = 'KubeconfigError';
}

/** A credential: its current value, and (when it can change) a way to read it again now. */
interface Credential {
  (): string;
  forget?: () => void;
}

/** A file's contents, re-read at most every `everyMs`, or at once after `forget` (rotated on disk). */
function cachedFile(path: string, everyMs: number): Credential {
  let value = '';
  let readAt = Number.NEGATIVE_INFINITY;
  const read: Credential = () => {
    if (Date.now() - readAt >= everyMs) {
      value = readFileSync(path, 'utf8').trim();
      readAt = Date.now();
    }
    return value;
  };
  read.forget = () => {
    readAt = Number.NEGATIVE_INFINITY;
  };
  return read;
}

function tokenAuth(token: Credential, tls: RequestOptions, server: string): Connection {
  const forget = token.forget;
  return {
    server,
    async authorize(opts) {
      Object.assign(opts, tls);
      opts.headers = { ...opts.headers, authorization: `Bearer ${token()}` };
    },
    ...(forget ? { refresh: () => forget() } : {}),
  };
}

/** The pod's own ServiceAccount, as kubelet mounts it (KUBERNETES_SERVICE_HOST/PORT). */
export function inClusterConnection(
  env: Record<string, string | undefined> = process.env,
  dir = SA_DIR,
): Connection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) {
    throw new KubeconfigError(
      'not in a cluster (KUBERNETES_SERVICE_HOST/PORT unset) and KUBECONFIG not set',
    );
  }
  const server = `https://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const ca = readFileSync(join(dir, 'ca.crt'));
  return tokenAuth(cachedFile(join(dir, 'token'), TOKEN_REREAD_MS), { ca }, server);
}

/** client-node's KubeConfig, for the authentication methods rekey does not implement itself. */
function viaClientNode(text: string, file: string | undefined, server: string): Connection {
  let kc: Promise<import('@kubernetes/client-node').KubeConfig> | undefined;
  return {
    server,
    async authorize(opts) {
      kc ??= import('@kubernetes/client-node').then(({ KubeConfig }) => {
        const c = new KubeConfig();
        if (file) c.loadFromFile(file);
        else c.loadFromString(text);
        return c;
      });
      await (await kc).applyToHTTPSOptions(opts);
    },
    // a fresh KubeConfig runs the exec plugin or auth-provider again instead of reusing its token
    refresh() {
      kc = undefined;
    },
  };
}

/**
 * The current context of a kubeconfig (YAML or JSON). `file` is where it was read from: relative
 * paths in it are resolved against its folder.
 */
export function connectionFromKubeconfig(text: string, file?: string): Connection {
  let doc: Kubeconfig;
  try {
    doc = (parse(text) ?? {}) as Kubeconfig;
  } catch (err) {
    throw new KubeconfigError(
      `kubeconfig${file ? ` ${file}` : ''}: not YAML: ${(err as Error).message}`,
    );
  }
  const name = doc['current-context'];
  const context = doc.contexts?.find((c) => c.name === name)?.context;
  if (!context) throw new KubeconfigError(`kubeconfig: no current context (${name ?? 'unset'})`);
  const cluster = doc.clusters?.find((c) => c.name === context.cluster)?.cluster;
  if (!cluster?.server) {
    throw new KubeconfigError(`kubeconfig: context ${name} has no cluster with a server`);
  }
  const user = doc.users?.find((u) => u.name === context.user)?.user ?? {};
  const server = cluster.server;
  if (user.exec || user['auth-provider'] || user.username) return viaClientNode(text, file, server);

  const base = file ? dirname(file) : process.cwd();
  const path = (p: string) => (isAbsolute(p) ? p : join(base, p));
  const material = (data: string | undefined, ref: string | undefined) =>
    data ? Buffer.from(data, 'base64') : ref ? readFileSync(path(ref)) : undefined;
  const tls: RequestOptions = {};
  const ca = material(cluster['certificate-authority-data'], cluster['certificate-authority']);
  if (ca) tls.ca = ca;
  if (cluster['insecure-skip-tls-verify']) tls.rejectUnauthorized = false;
  if (cluster['tls-server-name']) tls.servername = cluster['tls-server-name'];
  const cert = material(user['client-certificate-data'], user['client-certificate']);
  const key = material(user['client-key-data'], user['client-key']);
  if (cert && key) Object.assign(tls, { cert, key });
  if (user.token) return tokenAuth(() => user.token as string, tls, server);
  if (user.tokenFile)
    return tokenAuth(cachedFile(path(user.tokenFile), TOKEN_REREAD_MS), tls, server);
  return {
    server,
    async authorize(opts) {
      Object.assign(opts, tls);
    },
  };
}

/**
 * KUBECONFIG when set (its first file), else the pod's ServiceAccount. Any failure, a file the
 * kubeconfig points at or a missing ServiceAccount mount included, is a KubeconfigError naming
 * KUBECONFIG: a start-up refusal (exit 2, one line), never a crash.
 */
export function loadConnection({ KUBECONFIG }: { KUBECONFIG?: string | undefined }): Connection {
  const file = KUBECONFIG?.split(':').find(Boolean);
  try {
    if (!file) return inClusterConnection();
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      throw new KubeconfigError(`kubeconfig ${file}: ${(err as Error).message}`, { cause: err });
    }
    return connectionFromKubeconfig(text, file);
  } catch (err) {
    throw new KubeconfigError(`KUBECONFIG: ${(err as Error).message}`, { cause: err });
  }
}
