// Key-id reports first, the apiservers' metrics where there are none: on a hosted control plane
// (EKS, GKE, AKS) no reporter runs next to the plugin, and without a fallback every step would
// answer "no key_id" forever. While any fresh report exists (even an unhealthy one), the reports
// alone decide, as they did before: they see the plugin and the EncryptionConfiguration.
import type { KeyObservation, KeyObserver } from '../ports/key-observer.ts';

export function withFallbackObserver(primary: KeyObserver, fallback: KeyObserver): KeyObserver {
  return {
    async observe(provider): Promise<KeyObservation> {
      const first = await primary.observe(provider);
      // `unknown` health with no observation: no fresh report at all
      if (first.observations.length > 0 || first.pluginHealth.status !== 'unknown') return first;
      const second = await fallback.observe(provider);
      return {
        observations: second.observations,
        pluginHealth: first.pluginHealth,
        ...(first.encryptionConfigs ? { encryptionConfigs: first.encryptionConfigs } : {}),
      };
    },
  };
}
