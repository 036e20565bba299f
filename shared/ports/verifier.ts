// Port: the proof from etcd (docs/architecture.md, "The proof"): which key protects each value,
// read without decrypting.

import type { VerificationResult } from '../domain/verification.ts';

/** A scan's outcome: a result, or why etcd could not be scanned. */
export type VerifierScan =
  | { available: true; result: VerificationResult }
  | { available: false; reason: string };

/** A resource in scope: its EncryptionConfiguration name and whether the provider writes it. */
export interface ScopedResource {
  resource: string;
  write: boolean;
}

/**
 * Scans etcd. Guarantees: read-only; never decrypts; reads every value under the etcd prefix in
 * one snapshot; a value in scope counts as an offender unless it is stored as KMS v2 under
 * `provider` with `currentKeyId` (where the provider writes), and a value anywhere under an older
 * key_id of the provider is one too; a scan that read fewer values than the API lists, or nothing
 * at all, is never clean (`problems` say why); offenders are named, never shown.
 */
export interface Verifier {
  scan(request: {
    scope: readonly ScopedResource[];
    provider: string;
    /** Empty when only its hash is known (a revision from the apiservers' metrics). */
    currentKeyId: string;
    /** The key_id's `sha256:` hash; values are compared by it when `currentKeyId` is empty. */
    currentKeyIdHash?: string;
  }): Promise<VerifierScan>;
}
