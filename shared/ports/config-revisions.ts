// Port: where EncryptionConfiguration revisions live (in the cluster: one Secret per revision in
// rekey's state namespace), and what each node agent says it wrote.

import type { ApiserverConfigState } from '../domain/encryption-revisions/config-convergence.ts';
import type { ConfigRevisionRecord } from '../domain/encryption-revisions/switch-state.ts';

/** A stored revision: its record, its text (may hold local keys: never print it), its version. */
export interface StoredConfigRevision {
  record: ConfigRevisionRecord;
  text: string;
  /** The Secret's resourceVersion, for conditional updates. */
  version: string;
}

/**
 * Configuration revisions. Guarantees: `create` is atomic on the number (of concurrent creators
 * exactly one gets true); `update` applies only at `expectedVersion` (false on a conflict) and
 * answers the new version; the text is written to no log, event or error.
 */
export interface ConfigRevisionStore {
  list(): Promise<StoredConfigRevision[]>;
  /** False when a revision with this number already exists. */
  create(record: ConfigRevisionRecord, text: string): Promise<boolean>;
  /** The revision's new version, or false when it was not at `expectedVersion`. */
  update(record: ConfigRevisionRecord, expectedVersion: string): Promise<string | false>;
  /**
   * The Secret that stores revision `number`, when it is one the stage 3 rewrite lists: saving
   * progress writes it anyway, so the rewrite leaves it alone (as a Secret only: an object of
   * another resource with this namespace and name is the user's, and is rewritten).
   */
  objectOf?(number: number): { namespace: string; name: string } | undefined;
}

/** What one node agent (write mode) last did, from its key-id report. */
export interface NodeConfigWrite {
  node: string;
  /** The revision it last wrote or tried to write. */
  revision?: number | undefined;
  /** The hash of the file it wrote for `revision`. */
  hash?: string | undefined;
  /** Why it could not write `revision` (nothing was written). */
  error?: string | undefined;
  /** The KMS providers it has a plugin endpoint for on its node, name -> endpoint. */
  kmsEndpoints: Record<string, string>;
  /**
   * ISO 8601: when its agent last confirmed the report (the later of the report's time and its
   * liveness Lease's renewal); undefined when unknown.
   */
  confirmedAt?: string | undefined;
}

export interface NodeConfigWrites {
  /** Every node agent in write mode that reports, by node. */
  list(): Promise<NodeConfigWrite[]>;
}

/** What every live apiserver says it applied (its own /metrics), with its node. */
export interface AppliedConfigReader {
  read(): Promise<{
    live: ApiserverConfigState[];
    readable: boolean;
    unreadableReason?: string;
  }>;
}
