// Which key a provider uses, read from the apiservers' metrics alone: on hosted control planes
// (EKS, GKE, AKS) no key-id reporter can run next to the plugin, but every apiserver publishes the
// hash of the key_id its plugin reports. Only a hash every live apiserver reports as current is
// an answer: a rollout in progress (some on the old key, some on the new) is none yet.
import { currentKeyIdHashes, type KeyIdStatusSample } from './key-id-metrics.ts';

/** The evidence: the same snapshot the convergence gate reads (shared/ports/adoption-reader.ts). */
export interface MetricsEvidence {
  liveApiservers: readonly string[];
  samples: readonly KeyIdStatusSample[];
  metricsReadable: boolean;
  unreadableReason?: string;
}

/** The key_id hash every live apiserver reports for the provider, or why there is none. */
export type AgreedKeyIdHash =
  | { agreed: true; keyIdHash: string; apiservers: number }
  | { agreed: false; reason: string };

export function agreedKeyIdHash(provider: string, e: MetricsEvidence): AgreedKeyIdHash {
  if (!e.metricsReadable) {
    return {
      agreed: false,
      reason: `apiserver metrics unreadable: ${e.unreadableReason ?? 'unknown reason'}`,
    };
  }
  const live = [...new Set(e.liveApiservers)];
  // without identity Leases a scrape may have reached one apiserver of several: it proves nothing
  if (live.length === 0) {
    return { agreed: false, reason: 'no live identity Lease in kube-system: apiservers unknown' };
  }
  const current = new Map<string, string>();
  for (const s of currentKeyIdHashes(e.samples)) {
    if (s.providerName === provider) current.set(s.apiserverIdHash, s.keyIdHash);
  }
  const missing = live.filter((id) => !current.has(id));
  if (missing.length > 0) {
    return {
      agreed: false,
      reason: `${missing.length} of ${live.length} live apiserver(s) report no key for provider "${provider}"`,
    };
  }
  const hashes = new Set(live.map((id) => current.get(id) as string));
  const [only] = hashes;
  if (hashes.size !== 1 || only === undefined) {
    return {
      agreed: false,
      reason: `live apiservers report ${hashes.size} different keys for provider "${provider}" (a rollout)`,
    };
  }
  return { agreed: true, keyIdHash: only, apiservers: live.length };
}
