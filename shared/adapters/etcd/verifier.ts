// The Verifier port on etcd: every object in scope must be stored as KMS v2 under the provider
// with the current key_id; anything else is named as an offender (names only).
import { verificationResult } from '../../domain/verification.ts';
import type { Clock } from '../../ports/clock.ts';
import type { Verifier, VerifierScan } from '../../ports/verifier.ts';
import { createEtcdInspector, type EtcdInspectorOptions } from './inspector.ts';

export function createEtcdVerifier(
  options: Omit<EtcdInspectorOptions, 'resources'>,
  { clock }: { clock: Clock },
): Verifier {
  return {
    async scan({ resources, provider, currentKeyId }): Promise<VerifierScan> {
      const inspector = createEtcdInspector({ ...options, resources: [...resources] });
      const offenders: string[] = [];
      let scanned = 0;
      try {
        for await (const r of inspector.reports()) {
          scanned++;
          if (
            r.kind === 'kms-v2' &&
            r.provider === provider &&
            r.keyID === currentKeyId &&
            !r.error
          )
            continue;
          offenders.push([r.resource, r.namespace, r.name].filter(Boolean).join('/'));
        }
      } catch (err) {
        return { available: false, reason: `etcd scan failed: ${(err as Error).message}` };
      } finally {
        inspector.close();
      }
      return {
        available: true,
        result: verificationResult(offenders, { checkedAt: clock.now().toISOString(), scanned }),
      };
    },
  };
}
