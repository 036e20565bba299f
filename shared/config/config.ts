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
});

export type RekeyConfig = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses settings from an environment-like record; throws ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): RekeyConfig {
  const r = configSchema.safeParse(env);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${i.path.join('.') || '(config)'}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join('\n')}`);
}
