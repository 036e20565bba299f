// The KeyObserver port where no key-id reporter can run (hosted control planes: EKS, GKE, AKS):
// the apiservers' own metrics, as the AdoptionReader scrapes them, give the hash of the key_id
// every live apiserver's plugin reports. That is an observation with the hash only. Where rekey
// may ask the cloud KMS, what it says is current is attached as a label for humans: it is not the
// plugin's key_id (aws-encryption-provider reports the key ARN, for one), so nothing compares it.
import { agreedKeyIdHash } from '../../domain/metrics-observation.ts';
import type { AdoptionReader } from '../../ports/adoption-reader.ts';
import type { Clock } from '../../ports/clock.ts';
import type { KeyObservation, KeyObserver } from '../../ports/key-observer.ts';

/** What the cloud KMS says is current for the configured key (shared/adapters/kms-current.ts). */
export type KmsCurrent = () => Promise<string>;

export interface MetricsKeyObserverOptions {
  adoption: Pick<AdoptionReader, 'read'>;
  clock: Clock;
  kmsCurrent?: KmsCurrent | undefined;
  /** Why a look found nothing, for the step's log. */
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export function createMetricsKeyObserver({
  adoption,
  clock,
  kmsCurrent,
  log,
}: MetricsKeyObserverOptions): KeyObserver {
  // the KMS is asked once per newly agreed hash: what was current when that key appeared
  let labelled: { hash: string; label: string | undefined } | undefined;

  async function labelFor(hash: string): Promise<string | undefined> {
    if (!kmsCurrent) return undefined;
    if (labelled?.hash === hash) return labelled.label;
    let label: string | undefined;
    try {
      label = await kmsCurrent();
    } catch (err) {
      // a label is for humans: the KMS being unreachable costs the label, not the observation
      log?.('cloud KMS not asked what is current', { error: (err as Error).message });
    }
    labelled = { hash, label };
    return label;
  }

  return {
    async observe(provider): Promise<KeyObservation> {
      const none: KeyObservation = { observations: [], pluginHealth: { status: 'unknown' } };
      let snapshot: Awaited<ReturnType<AdoptionReader['read']>>;
      try {
        snapshot = await adoption.read();
      } catch (err) {
        log?.('no key from apiserver metrics', { provider, reason: (err as Error).message });
        return none;
      }
      const agreed = agreedKeyIdHash(provider, snapshot);
      if (!agreed.agreed) {
        log?.('no key from apiserver metrics', { provider, reason: agreed.reason });
        return none;
      }
      const label = await labelFor(agreed.keyIdHash);
      return {
        ...none,
        observations: [
          {
            provider,
            keyId: '',
            keyIdHash: agreed.keyIdHash,
            source: 'apiserver-metrics',
            observedAt: clock.now().toISOString(),
            ...(label ? { kmsLabel: label } : {}),
          },
        ],
      };
    },
  };
}
