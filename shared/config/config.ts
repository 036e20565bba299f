// rekey's settings: one schema, read from environment variables (and CLI flags mapped onto them),
// validated at start with messages that name the variable and what is wrong. Every refusal at
// start-up is a ConfigError (this schema's, and those of the modules that use a setting), so both
// entry points exit 2 with one line instead of a stack trace.
import { z } from 'zod';
import { parseTransitKey } from '../domain/transit-key.ts';
import {
  isServiceAccountUsername,
  isWebhookSecret,
  SERVICE_ACCOUNT_USERNAME_FORMAT,
  WEBHOOK_SECRET_FORMAT,
} from './setting-formats.ts';

// `value: ""` in a manifest means unset, not an empty list
const emptyIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const list = z
  .string()
  .transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  )
  .refine((xs) => xs.length > 0, 'must list at least one value');
const optionalList = z.preprocess(emptyIsUnset, list.optional());
/** A Kubernetes namespace name (a DNS-1123 label). */
const namespaceName = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name');

/** An optional list whose entries must each pass `ok`; `bad` says what is wrong with entry `n`. */
function optionalListOf(ok: (entry: string) => boolean, bad: (entry: string, n: number) => string) {
  const checked = list.superRefine((entries, ctx) => {
    entries.forEach((entry, i) => {
      if (!ok(entry)) ctx.addIssue({ code: 'custom', message: bad(entry, i + 1) });
    });
  });
  return z.preprocess(emptyIsUnset, checked.optional());
}

/** A whole number in a range; empty means unset, so the default applies. */
function wholeNumber(def: number, min: number, max?: number) {
  const says =
    max === undefined
      ? `must be a whole number, at least ${min}`
      : `must be a whole number from ${min} to ${max}`;
  const n = z.coerce.number({ error: says }).int(says).min(min, says);
  return z.preprocess(emptyIsUnset, (max === undefined ? n : n.max(max, says)).default(def));
}
const seconds = (def: number) => wholeNumber(def, 1);
const AUTO_OR_N = 'must be auto or a whole number from 1 to 256';

function isHttpUrl(value: string): boolean {
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}
const httpUrl = z.url({ protocol: /^https?$/, error: 'must be an http or https URL' });

/** An etcd client URL as etcdctl takes it: `https://host:2379`, or `host:2379` without a scheme. */
function isEtcdEndpoint(value: string): boolean {
  if (!isHttpUrl(value.includes('://') ? value : `http://${value}`)) return false;
  const u = new URL(value.includes('://') ? value : `http://${value}`);
  return u.hostname !== '' && u.pathname === '/' && !u.search && !u.hash && !u.username;
}

/** `host:port` (a local Cloud KMS endpoint: plaintext gRPC, tests and the sandbox). */
function isHostPort(value: string): boolean {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^\s:/[\]]+):(\d{1,5})$/.exec(value);
  const port = Number(m?.[2]);
  return m !== null && port >= 1 && port <= 65535;
}

export const configSchema = z.object({
  /**
   * The kms provider name in the EncryptionConfiguration whose key_id rekey follows; unset = the
   * kms provider that writes in the file every fresh key-id report names (shared/core/followed-provider.ts).
   */
  REKEY_PROVIDER: z.preprocess(emptyIsUnset, z.string().optional()),
  /** An explicit scope; unset = what the reported EncryptionConfiguration gives the provider. */
  REKEY_RESOURCES: optionalList,
  REKEY_NAMESPACE: namespaceName.default('rekey-system'),
  /**
   * Where rekey keeps its own records (revision Secrets, the runner Lease); unset = REKEY_NAMESPACE.
   * A namespace of their own keeps the identities that write them away from rekey's credentials.
   */
  REKEY_STATE_NAMESPACE: namespaceName.optional(),
  /**
   * Where the webhook keeps its replay claims (one Lease per webhook-id); unset = the state
   * namespace. A namespace of their own lets the webhook's identity hold Lease verbs there only,
   * away from the runner Lease.
   */
  REKEY_REPLAY_NAMESPACE: namespaceName.optional(),
  /** kubeconfig file; unset = in-cluster service account. */
  KUBECONFIG: z.string().optional(),
  /** Every apiserver, each scraped for its own key_id metric; unset = discovered (EndpointSlices). */
  REKEY_APISERVER_URLS: optionalListOf(
    isHttpUrl,
    (url, n) => `entry #${n} (${JSON.stringify(url)}) is not an http or https URL`,
  ),
  /** KMS plugin sockets to ask directly (rekey on a control-plane node); unset = key-id reports. */
  REKEY_PLUGIN_SOCKETS: optionalList,
  REKEY_ETCD_ENDPOINTS: optionalListOf(
    isEtcdEndpoint,
    (endpoint, n) =>
      `entry #${n} (${JSON.stringify(endpoint)}) is not an etcd client URL (https://host:2379)`,
  ),
  REKEY_ETCD_PREFIX: z.string().startsWith('/', 'must start with /').default('/registry'),
  /** Read at start-up; shared/app/reconcile-ports.ts refuses an unreadable one, naming it. */
  REKEY_ETCD_CA_FILE: z.preprocess(emptyIsUnset, z.string().optional()),
  REKEY_ETCD_CERT_FILE: z.preprocess(emptyIsUnset, z.string().optional()),
  REKEY_ETCD_KEY_FILE: z.preprocess(emptyIsUnset, z.string().optional()),
  REKEY_PAGE_SIZE: wholeNumber(500, 1, 10_000),
  /**
   * Concurrent no-op patches: `auto` (default) adapts between 1 and REKEY_CONCURRENCY_MAX on the
   * patches' latency and the apiserver's pushback (shared/domain/adaptive-concurrency.ts); a
   * number fixes it.
   */
  REKEY_CONCURRENCY: z.preprocess(
    emptyIsUnset,
    z
      .union(
        [z.literal('auto'), z.coerce.number().int(AUTO_OR_N).min(1, AUTO_OR_N).max(256, AUTO_OR_N)],
        {
          error: AUTO_OR_N,
        },
      )
      .default('auto'),
  ),
  REKEY_CONCURRENCY_MAX: wholeNumber(32, 1, 256),
  REKEY_BUDGET_SECONDS: seconds(60),
  REKEY_FALLBACK_WAIT_SECONDS: seconds(300),
  REKEY_KEEP_REVISIONS: wholeNumber(10, 1),
  REKEY_HOLDER: z.string().optional(),
  // --- the functions (HTTP) ---
  PORT: wholeNumber(8080, 1, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** Where rekey's own CloudEvents go (Knative SinkBinding sets it); unset = not emitted. */
  K_SINK: z.preprocess(emptyIsUnset, httpUrl.optional()),
  /**
   * Where the trigger functions (kms-event, cluster-event, webhook) run the reconcile step:
   * `local` in their own request (one identity holds every permission: `rekey serve`, the CLI),
   * `delegate` by emitting dev.rekey.step.requested to K_SINK for the reconcile function, so that
   * only the reconcile function's ServiceAccount may list and patch objects cluster-wide.
   */
  REKEY_STEP_MODE: z.enum(['local', 'delegate']).default('local'),
  /** Knative mounts a sender token here when sender identity is on; sent to K_SINK only. */
  REKEY_SINK_TOKEN_FILE: z.string().default('/oidc/token'),
  /**
   * The KMS key behind the provider: an AWS key ARN, a GCP CryptoKey name, a Key Vault key URL, or
   * a Vault / OpenBao transit key as its API path `<mount>/keys/<name>` (with REKEY_VAULT_ADDR).
   */
  REKEY_KMS_KEY: z.preprocess(emptyIsUnset, z.string().optional()),
  /** The Vault / OpenBao server of a transit REKEY_KMS_KEY, e.g. https://vault.example:8200. */
  REKEY_VAULT_ADDR: z.preprocess(emptyIsUnset, httpUrl.optional()),
  /** A file holding the Vault token (re-read on every call; its content is never logged). */
  REKEY_VAULT_TOKEN_FILE: z.preprocess(emptyIsUnset, z.string().optional()),
  /** Vault Enterprise / OpenBao namespace of the transit mount; unset = the root namespace. */
  REKEY_VAULT_NAMESPACE: z.preprocess(emptyIsUnset, z.string().optional()),
  /** Local KMS endpoints (tests, the sandbox); unset = the cloud's own. */
  REKEY_AWS_ENDPOINT: z.preprocess(emptyIsUnset, httpUrl.optional()),
  REKEY_GCP_ENDPOINT: z.preprocess(
    emptyIsUnset,
    z.string().refine(isHostPort, 'must be host:port').optional(),
  ),
  /** Shared secret an EventBridge API destination sends in X-Rekey-Token with raw events. */
  REKEY_EVENTBRIDGE_TOKEN: z.preprocess(
    emptyIsUnset,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  /** Shared secret an Azure Event Grid subscription sends in X-Rekey-Token (a secret delivery property). */
  REKEY_EVENTGRID_TOKEN: z.preprocess(
    emptyIsUnset,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  /**
   * `true` says kms-event is cluster-local: CloudEvents on /kms-event are then taken without
   * Knative sender identity. Unset or `false`: /kms-event without sender identity answers 401.
   */
  REKEY_KMS_EVENT_PRIVATE: z.preprocess(
    emptyIsUnset,
    z
      .enum(['true', 'false'], { error: 'must be true or false' })
      .default('false')
      .transform((v) => v === 'true'),
  ),
  /** Standard Webhooks secrets (`whsec_...`) accepted on /webhook; several during a rotation. */
  REKEY_WEBHOOK_SECRETS: optionalListOf(
    isWebhookSecret,
    (_secret, n) => `entry #${n} must be ${WEBHOOK_SECRET_FORMAT}`, // never echo a secret
  ),
  /** Knative sender identity: the audience of sender tokens, and who may send. */
  REKEY_SENDER_AUDIENCE: z.preprocess(emptyIsUnset, z.string().optional()),
  REKEY_ALLOWED_SENDERS: optionalListOf(
    isServiceAccountUsername,
    (sender, n) =>
      `entry #${n} (${JSON.stringify(sender)}) is not ${SERVICE_ACCOUNT_USERNAME_FORMAT}`,
  ),
  /** Outgoing webhooks for rekey's events, signed with REKEY_OUTGOING_WEBHOOK_SECRETS. */
  REKEY_OUTGOING_WEBHOOK_URLS: optionalListOf(
    isHttpUrl,
    (_url, n) => `entry #${n} is not an http or https URL`, // its query may hold a credential
  ),
  REKEY_OUTGOING_WEBHOOK_SECRETS: optionalListOf(
    isWebhookSecret,
    (_secret, n) => `entry #${n} must be ${WEBHOOK_SECRET_FORMAT}`,
  ),
});

export type RekeyConfig = z.infer<typeof configSchema>;

/** The namespace of rekey's own records: REKEY_STATE_NAMESPACE, else REKEY_NAMESPACE. */
export function stateNamespaceOf(
  config: Pick<RekeyConfig, 'REKEY_NAMESPACE' | 'REKEY_STATE_NAMESPACE'>,
): string {
  return config.REKEY_STATE_NAMESPACE ?? config.REKEY_NAMESPACE;
}

/** The namespace of the webhook's replay claims: REKEY_REPLAY_NAMESPACE, else the state namespace. */
export function replayNamespaceOf(
  config: Pick<RekeyConfig, 'REKEY_NAMESPACE' | 'REKEY_STATE_NAMESPACE' | 'REKEY_REPLAY_NAMESPACE'>,
): string {
  return config.REKEY_REPLAY_NAMESPACE ?? stateNamespaceOf(config);
}

/**
 * A setting that can never work, found at start-up. The entry points print its message as the one
 * line of a refusal (exit 2), so it is kept on one line whatever it quotes (a YAML parser's report).
 */
export class ConfigError extends Error {
  override name = 'ConfigError';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/\s+/g, ' ').trim(), options);
  }
}

/**
 * Parses settings from an environment-like record; throws ConfigError listing every problem, each
 * as `VARIABLE: what is wrong`.
 */
export function loadConfig(env: Record<string, string | undefined>): RekeyConfig {
  const r = configSchema
    .refine(
      (c) => (c.REKEY_SENDER_AUDIENCE === undefined) === (c.REKEY_ALLOWED_SENDERS === undefined),
      {
        message: 'set both or neither: sender authentication needs an audience and allowed senders',
        path: ['REKEY_SENDER_AUDIENCE'],
      },
    )
    .refine(
      (c) =>
        (c.REKEY_OUTGOING_WEBHOOK_URLS === undefined) ===
        (c.REKEY_OUTGOING_WEBHOOK_SECRETS === undefined),
      {
        message: 'set both or neither: outgoing webhooks need URLs and signing secrets',
        path: ['REKEY_OUTGOING_WEBHOOK_URLS'],
      },
    )
    .refine(
      (c) => (c.REKEY_ETCD_CERT_FILE === undefined) === (c.REKEY_ETCD_KEY_FILE === undefined),
      {
        message:
          'set both or neither: REKEY_ETCD_CERT_FILE and REKEY_ETCD_KEY_FILE are one client certificate',
        path: ['REKEY_ETCD_CERT_FILE'],
      },
    )
    .refine(
      (c) =>
        c.REKEY_KMS_KEY === undefined ||
        parseTransitKey(c.REKEY_KMS_KEY) === undefined ||
        (c.REKEY_VAULT_ADDR !== undefined && c.REKEY_VAULT_TOKEN_FILE !== undefined),
      {
        message:
          'a Vault transit key (<mount>/keys/<name>) needs REKEY_VAULT_ADDR and REKEY_VAULT_TOKEN_FILE',
        path: ['REKEY_KMS_KEY'],
      },
    )
    .refine(
      (c) =>
        !c.REKEY_KMS_EVENT_PRIVATE ||
        (c.REKEY_EVENTBRIDGE_TOKEN === undefined && c.REKEY_EVENTGRID_TOKEN === undefined),
      {
        message:
          'true contradicts REKEY_EVENTBRIDGE_TOKEN/REKEY_EVENTGRID_TOKEN: those paths serve senders outside the cluster, so kms-event is public and /kms-event needs sender identity (REKEY_SENDER_AUDIENCE, REKEY_ALLOWED_SENDERS)',
        path: ['REKEY_KMS_EVENT_PRIVATE'],
      },
    )
    .refine((c) => c.REKEY_STEP_MODE === 'local' || c.K_SINK !== undefined, {
      message:
        'delegate needs K_SINK: the trigger functions hand their steps to the reconcile function through the Broker',
      path: ['REKEY_STEP_MODE'],
    })
    .safeParse(env);
  if (r.success) return r.data;
  const problems = r.error.issues.map((i) => `${i.path.join('.') || '(config)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** The most patches in flight these settings allow: the fixed number, or auto's ceiling. */
export function maxConcurrencyOf(
  config: Pick<RekeyConfig, 'REKEY_CONCURRENCY' | 'REKEY_CONCURRENCY_MAX'>,
): number {
  return config.REKEY_CONCURRENCY === 'auto'
    ? config.REKEY_CONCURRENCY_MAX
    : config.REKEY_CONCURRENCY;
}
