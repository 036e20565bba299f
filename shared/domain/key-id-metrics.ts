// Reads which KMS key_id each apiserver's plugin last reported, from the apiserver's
// Prometheus text metrics (KMS v2 status metric, one series per key_id hash).

export const KEY_ID_STATUS_METRIC =
  'apiserver_envelope_encryption_key_id_hash_status_last_timestamp_seconds';

export interface KeyIdStatusSample {
  providerName: string;
  keyIdHash: string;
  apiserverIdHash: string;
  /** Unix seconds of the last valid Status response that carried this key_id. */
  timestamp: number;
}

const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseLabels(text: string): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const m of text.matchAll(LABEL)) {
    const [, name = '', value = ''] = m;
    labels[name] = value.replace(/\\(["\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
  }
  return labels;
}

/** Every sample of the key_id status metric in a metrics exposition. */
export function parseKeyIdStatus(metricsText: string): KeyIdStatusSample[] {
  const out: KeyIdStatusSample[] = [];
  const prefix = `${KEY_ID_STATUS_METRIC}{`;
  for (const line of metricsText.split('\n')) {
    if (!line.startsWith(prefix)) continue;
    const close = line.lastIndexOf('}');
    if (close < 0) continue;
    const labels = parseLabels(line.slice(prefix.length, close));
    const timestamp = Number(
      line
        .slice(close + 1)
        .trim()
        .split(/\s+/)[0],
    );
    if (!labels.provider_name || !labels.key_id_hash || !Number.isFinite(timestamp)) continue;
    out.push({
      providerName: labels.provider_name,
      keyIdHash: labels.key_id_hash,
      apiserverIdHash: labels.apiserver_id_hash ?? '',
      timestamp,
    });
  }
  return out;
}

/**
 * The key_id hash each (apiserver, provider) reports now: the series with the newest timestamp,
 * since the series of a key_id stops being refreshed once the plugin reports another one.
 */
export function currentKeyIdHashes(samples: readonly KeyIdStatusSample[]): KeyIdStatusSample[] {
  const newest = new Map<string, KeyIdStatusSample>();
  for (const s of samples) {
    const k = `${s.apiserverIdHash}\u0000${s.providerName}`;
    const seen = newest.get(k);
    if (!seen || s.timestamp > seen.timestamp) newest.set(k, s);
  }
  return [...newest.values()];
}
