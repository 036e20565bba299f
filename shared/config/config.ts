// rekey's settings: one schema, read from environment variables (and CLI flags mapped onto them),
// validated at start with messages that name the variable and what is wrong.
import { z } from 'zod';

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
const seconds = (def: number) => z.coerce.number().int().positive().default(def);

export const configSchema = z.object({
  /** The KMS provider name in the EncryptionConfiguration. */
  REKEY_PROVIDER: z
    .string({ error: 'is required: the kms provider name in the EncryptionConfiguration' })
    .min(1, 'is required: the kms provider name in the EncryptionConfiguration'),
  REKEY_RESOURCES: z.preprocess(emptyIsUnset, list.default(['secrets'])),
  REKEY_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a namespace name')
    .default('rekey-system'),
  /** kubeconfig file; unset = in-cluster service account. */
  KUBECONFIG: z.string().optional(),
  /** Every apiserver, each scraped for its own key_id metric; unset = the kubeconfig's server. */
  REKEY_APISERVER_URLS: optionalList,
  /** KMS plugin sockets to ask directly (rekey on a control-plane node); unset = key-id reports. */
  REKEY_PLUGIN_SOCKETS: optionalList,
  REKEY_ETCD_ENDPOINTS: optionalList,
  REKEY_ETCD_PREFIX: z.string().startsWith('/').default('/registry'),
  REKEY_ETCD_CA_FILE: z.string().optional(),
  REKEY_ETCD_CERT_FILE: z.string().optional(),
  REKEY_ETCD_KEY_FILE: z.string().optional(),
  REKEY_PAGE_SIZE: z.coerce.number().int().min(1).max(10_000).default(500),
  REKEY_CONCURRENCY: z.coerce.number().int().min(1).max(256).default(16),
  REKEY_BUDGET_SECONDS: seconds(60),
  REKEY_FALLBACK_WAIT_SECONDS: seconds(300),
  REKEY_KEEP_REVISIONS: z.coerce.number().int().min(1).default(10),
  REKEY_HOLDER: z.string().optional(),
  // --- the functions (HTTP) ---
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace']).default('info'),
  /** Where rekey's own CloudEvents go (Knative SinkBinding sets it); unset = not emitted. */
  K_SINK: z.preprocess(emptyIsUnset, z.url().optional()),
  /**
   * Where the trigger functions (kms-event, cluster-event, webhook) run the reconcile step:
   * `local` in their own request (one identity holds every permission: `rekey serve`, the CLI),
   * `delegate` by emitting dev.rekey.step.requested to K_SINK for the reconcile function, so that
   * only the reconcile function's ServiceAccount may list and patch objects cluster-wide.
   */
  REKEY_STEP_MODE: z.enum(['local', 'delegate']).default('local'),
  /** Knative mounts a sender token here when sender identity is on; sent to K_SINK only. */
  REKEY_SINK_TOKEN_FILE: z.string().default('/oidc/token'),
  /** The cloud KMS key behind the provider (ARN, CryptoKey name, Key Vault key URL). */
  REKEY_KMS_KEY: z.preprocess(emptyIsUnset, z.string().optional()),
  /** Local KMS endpoints (tests, the sandbox); unset = the cloud's own. */
  REKEY_AWS_ENDPOINT: z.preprocess(emptyIsUnset, z.url().optional()),
  REKEY_GCP_ENDPOINT: z.preprocess(emptyIsUnset, z.string().optional()),
  /** Shared secret an EventBridge API destination sends in X-Rekey-Token with raw events. */
  REKEY_EVENTBRIDGE_TOKEN: z.preprocess(
    emptyIsUnset,
    z.string().min(16, 'must be at least 16 characters').optional(),
  ),
  /** Standard Webhooks secrets (`whsec_...`) accepted on /webhook; several during a rotation. */
  REKEY_WEBHOOK_SECRETS: optionalList,
  /** Knative sender identity: the audience of sender tokens, and who may send. */
  REKEY_SENDER_AUDIENCE: z.preprocess(emptyIsUnset, z.string().optional()),
  REKEY_ALLOWED_SENDERS: optionalList,
  /** Outgoing webhooks for rekey's events, signed with REKEY_OUTGOING_WEBHOOK_SECRETS. */
  REKEY_OUTGOING_WEBHOOK_URLS: optionalList,
  REKEY_OUTGOING_WEBHOOK_SECRETS: optionalList,
});

export type RekeyConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings from an environment-like record; throws ConfigError listing every problem. */
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
    .refine((c) => c.REKEY_STEP_MODE === 'local' || c.K_SINK !== undefined, {
      message:
        'delegate needs K_SINK: the trigger functions hand their steps to the reconcile function through the Broker',
      path: ['REKEY_STEP_MODE'],
    })
    .safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
