// What each apiserver says about its EncryptionConfiguration in its /metrics (kube-apiserver 1.34,
// ALPHA): `..._last_config_info{apiserver_id_hash, hash}`, the `sha256:` hash of the file's bytes
// it applied last (at start, then after each successful automatic reload), and
// `..._automatic_reloads_total{status, apiserver_id_hash}`, its reload successes and failures.

export const LAST_CONFIG_INFO_METRIC = 'apiserver_encryption_config_controller_last_config_info';
export const AUTOMATIC_RELOADS_METRIC =
  'apiserver_encryption_config_controller_automatic_reloads_total';

/** The series lines rekey keeps from /metrics for configuration convergence. */
export const isConfigMetricLine = (line: string): boolean =>
  line.startsWith(`${LAST_CONFIG_INFO_METRIC}{`) || line.startsWith(`${AUTOMATIC_RELOADS_METRIC}{`);

export interface AppliedConfigSample {
  apiserverIdHash: string;
  hash: string;
}

export interface ReloadCounts {
  apiserverIdHash: string;
  success: number;
  failure: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function series(line: string): { labels: Record<string, string>; value: number } {
  const close = line.lastIndexOf('}');
  const labels: Record<string, string> = {};
  for (const m of line.slice(line.indexOf('{') + 1, close).matchAll(LABEL)) {
    labels[m[1] ?? ''] = (m[2] ?? '').replace(/\\(["\\])/g, '$1');
  }
  return {
    labels,
    value: Number(
      line
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    ),
  };
}

/** The applied-config hash and reload counts of every apiserver in an exposition. */
export function parseConfigMetrics(text: string): {
  applied: AppliedConfigSample[];
  reloads: ReloadCounts[];
} {
  const applied: AppliedConfigSample[] = [];
  const reloads = new Map<string, ReloadCounts>();
  for (const line of text.split('\n')) {
    if (!isConfigMetricLine(line)) continue;
    const { labels, value } = series(line);
    const id = labels.apiserver_id_hash ?? '';
    if (id === '') continue;
    if (line.startsWith(LAST_CONFIG_INFO_METRIC)) {
      if (labels.hash && value === 1) applied.push({ apiserverIdHash: id, hash: labels.hash });
      continue;
    }
    const counts = reloads.get(id) ?? { apiserverIdHash: id, success: 0, failure: 0 };
    if (Number.isFinite(value) && (labels.status === 'success' || labels.status === 'failure')) {
      counts[labels.status] += value;
    }
    reloads.set(id, counts);
  }
  return { applied, reloads: [...reloads.values()] };
}
