// What `switchEncryption` (./switch-encryption.ts) needs; shared/app fills these in.

import type { Clock } from '../ports/clock.ts';
import type {
  AppliedConfigReader,
  ConfigRevisionStore,
  NodeConfigWrites,
} from '../ports/config-revisions.ts';
import type { ObjectRewriter } from '../ports/object-rewriter.ts';
import type { ServedResources } from '../ports/served-resources.ts';
import type { ValueScanner } from '../ports/value-scanner.ts';
import type { ConcurrencyLimit } from './concurrency-limit.ts';
import type { Log } from './deps.ts';

export interface SwitchDeps {
  revisions: ConfigRevisionStore;
  /** What each node agent in write mode wrote (its key-id report). */
  nodes: NodeConfigWrites;
  /** What each live apiserver applied (its own /metrics). */
  apiservers: AppliedConfigReader;
  rewriter: ObjectRewriter;
  /** etcd, for stage 3's proof; absent: a switch stops before removing the old provider. */
  scanner?: ValueScanner | undefined;
  /** API discovery, to resolve wildcard resources for the migration. */
  served?: ServedResources | undefined;
  clock: Clock;
  sleep?: ((ms: number) => Promise<void>) | undefined;
  log?: Log | undefined;
  /** Stage 3's list page size and concurrent rewrites (REKEY_PAGE_SIZE, REKEY_CONCURRENCY). */
  pageSize?: number | undefined;
  concurrency?: number | undefined;
  /**
   * The process's rewrite limit (adaptive under REKEY_CONCURRENCY=auto), shared with key
   * rotations: one apiserver budget per process. Absent: `concurrency` fixed slots.
   */
  limit?: ConcurrencyLimit | undefined;
}
