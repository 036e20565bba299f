// CLI flags that map one to one onto rekey's environment settings, so flags and env share one
// validated schema (shared/config). A flag wins over the variable.
import type { Command } from 'commander';

export const SETTING_FLAGS = [
  [
    '--provider <name>',
    'REKEY_PROVIDER',
    "kms provider name in the EncryptionConfiguration (default: the one the nodes' files write with)",
  ],
  ['--resources <list>', 'REKEY_RESOURCES', 'resources that provider encrypts (default secrets)'],
  ['--namespace <ns>', 'REKEY_NAMESPACE', "rekey's namespace (default rekey-system)"],
  [
    '--state-namespace <ns>',
    'REKEY_STATE_NAMESPACE',
    "where rekey's revisions and Leases are (default: --namespace)",
  ],
  ['--kubeconfig <file>', 'KUBECONFIG', 'kubeconfig (default: in-cluster)'],
  [
    '--apiserver-urls <list>',
    'REKEY_APISERVER_URLS',
    'every apiserver URL, for per-apiserver metrics (default: discovered from the kubernetes EndpointSlices)',
  ],
  [
    '--plugin-sockets <list>',
    'REKEY_PLUGIN_SOCKETS',
    'ask these KMS plugin sockets instead of key-id reports',
  ],
  [
    '--etcd-endpoints <list>',
    'REKEY_ETCD_ENDPOINTS',
    'etcd client URLs, for verification from etcd',
  ],
  [
    '--etcd-prefix <prefix>',
    'REKEY_ETCD_PREFIX',
    "the apiserver's --etcd-prefix (default /registry)",
  ],
  ['--page-size <n>', 'REKEY_PAGE_SIZE', 'objects per list page (default 500)'],
  [
    '--concurrency <n>',
    'REKEY_CONCURRENCY',
    'concurrent no-op patches: auto (default; adapts up to REKEY_CONCURRENCY_MAX, 32) or a number',
  ],
  [
    '--budget-seconds <n>',
    'REKEY_BUDGET_SECONDS',
    'work per step before checkpointing (default 60)',
  ],
  [
    '--fallback-wait-seconds <n>',
    'REKEY_FALLBACK_WAIT_SECONDS',
    'wait when metrics are unreadable (default 300)',
  ],
  [
    '--kms-key <key>',
    'REKEY_KMS_KEY',
    'the KMS key behind the provider (AWS key ARN, GCP CryptoKey name, Vault transit <mount>/keys/<name>)',
  ],
] as const;

export function addSettingFlags(cmd: Command): Command {
  for (const [flag, env, help] of SETTING_FLAGS) cmd.option(flag, `${help} [$${env}]`);
  return cmd.option('--output <format>', 'text or json', 'text');
}

/** The environment with flags laid over it. */
export function settingsFrom(
  opts: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = { ...env };
  for (const [flag, name] of SETTING_FLAGS) {
    const key = flag
      .slice(2)
      .split(' ')[0]
      ?.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    const v = key ? opts[key] : undefined;
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}
