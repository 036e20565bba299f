// "Can I disable this key now?" (docs/architecture.md, "Retiring a key"): yes only when no value
// anywhere under the etcd prefix is wrapped by that key_id under any KMS provider, and no live
// apiserver reports it as its current key for any provider. Not only the followed provider's: after
// a switch from p1 to p2, values still under p1's old key are lost if it is disabled. Either
// question unanswerable means "cannot tell", never yes.
import { isHashOnly, keyIdHash } from '../domain/key-id.ts';
import { currentKeyIdHashes } from '../domain/key-id-metrics.ts';
import { kmsProviderWrapping, storagePathOf } from '../domain/key-inventory.ts';
import { MAX_PROOF_OFFENDERS } from '../domain/proof.ts';
import { newestRevision } from '../domain/revision.ts';
import type { AdoptionReader } from '../ports/adoption-reader.ts';
import type { RevisionStore } from '../ports/revision-store.ts';
import type { ValueScanner } from '../ports/value-scanner.ts';

export type RetireVerdict =
  | { verdict: 'retirable' }
  | {
      verdict: 'in-use';
      objects: string[];
      objectCount: number;
      apiservers: string[];
      /** The KMS providers under which the key_id was found (values or apiservers), sorted. */
      providers: string[];
    }
  | { verdict: 'unknown'; reason: string };

export interface RetireReport {
  /** The followed provider, whose newest revision's verification is reported; none when unknown. */
  provider?: string;
  keyIdHash: string;
  result: RetireVerdict;
  /** When the newest revision of the provider was last verified clean, if ever. */
  lastVerifiedAt?: string;
  lastVerifiedRevision?: string;
}

export async function checkRetire(
  deps: { scanner?: ValueScanner; adoption: AdoptionReader; store: RevisionStore },
  { provider, keyId }: { provider?: string; keyId: string },
): Promise<RetireReport> {
  const hash = keyIdHash(keyId);
  const base: RetireReport = {
    ...(provider !== undefined ? { provider } : {}),
    keyIdHash: hash,
    result: { verdict: 'retirable' },
  };
  const newest =
    provider === undefined
      ? undefined
      : newestRevision((await deps.store.list(provider)).map((s) => s.revision));
  if (newest?.verification?.clean) {
    base.lastVerifiedAt = newest.verification.checkedAt;
    base.lastVerifiedRevision = newest.name;
  }
  if (!deps.scanner) {
    // a revision from the apiservers' metrics alone: a hosted control plane, whose etcd nobody reaches
    const hosted =
      newest && isHashOnly(newest)
        ? `; ${newest.name} was recorded from the apiservers' metrics (key_id hash only), as on a hosted control plane (EKS, GKE, AKS) whose etcd rekey cannot read`
        : '';
    return {
      ...base,
      result: {
        verdict: 'unknown',
        reason: `no etcd access is configured (REKEY_ETCD_ENDPOINTS): nothing can tell which values that key_id still wraps${hosted}`,
      },
    };
  }
  const objects: string[] = [];
  const providers = new Set<string>();
  let objectCount = 0;
  try {
    for await (const v of deps.scanner.values()) {
      const under = kmsProviderWrapping(v, keyId);
      if (under === undefined) continue;
      providers.add(under);
      objectCount++;
      if (objects.length < MAX_PROOF_OFFENDERS) {
        const path = storagePathOf(v.key, deps.scanner.prefix);
        const base = `${deps.scanner.prefix.replace(/\/+$/, '')}/${path}/`;
        objects.push(`${path}/${v.key.startsWith(base) ? v.key.slice(base.length) : v.key}`);
      }
    }
  } catch (err) {
    return {
      ...base,
      result: { verdict: 'unknown', reason: `etcd scan failed: ${(err as Error).message}` },
    };
  }
  const adoption = await deps.adoption.read();
  const reporting = currentKeyIdHashes(adoption.samples).filter(
    (s) =>
      s.keyIdHash === hash &&
      (adoption.liveApiservers.length === 0 || adoption.liveApiservers.includes(s.apiserverIdHash)),
  );
  for (const s of reporting) providers.add(s.providerName);
  const apiservers = [...new Set(reporting.map((s) => s.apiserverIdHash))];
  if (objectCount > 0 || apiservers.length > 0) {
    return {
      ...base,
      result: {
        verdict: 'in-use',
        objects,
        objectCount,
        apiservers,
        providers: [...providers].sort(),
      },
    };
  }
  if (!adoption.metricsReadable) {
    return {
      ...base,
      result: {
        verdict: 'unknown',
        reason: `no value is wrapped by it, but the apiservers' metrics could not be read (${adoption.unreadableReason ?? 'unknown reason'}): an apiserver may still write with it`,
      },
    };
  }
  return base;
}
