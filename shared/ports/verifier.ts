// Port: the proof from etcd (DESIGN rule 6): which key protects each object, read without decrypting.

import type { VerificationResult } from '../domain/verification.ts';

/** A scan's outcome: a result, or why etcd could not be scanned. */
export type VerifierScan =
  | { available: true; result: VerificationResult }
  | { available: false; reason: string };

/**
 * Scans etcd. Guarantees: read-only; never decrypts; an object counts as an offender unless it is
 * stored as KMS v2 under `provider` with `currentKeyId`; offenders are named, never shown.
 */
export interface Verifier {
  scan(request: {
    resources: readonly string[];
    provider: string;
    currentKeyId: string;
  }): Promise<VerifierScan>;
}
