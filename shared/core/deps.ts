// What a reconcile step needs (ports) and how it is tuned (config); shared/app fills these in.
import type { Revision } from '../domain/revision.ts';
import type { AdoptionReader } from '../ports/adoption-reader.ts';
import type { Clock } from '../ports/clock.ts';
import type { EventSink } from '../ports/event-sink.ts';
import type { KeyObserver, ReportedConfigs } from '../ports/key-observer.ts';
import type { Lock } from '../ports/lock.ts';
import type { ObjectLookup } from '../ports/object-lookup.ts';
import type { ObjectRewriter } from '../ports/object-rewriter.ts';
import type { RevisionStore } from '../ports/revision-store.ts';
import type { ServedResources } from '../ports/served-resources.ts';
import type { StoredEncryptionReader } from '../ports/stored-encryption.ts';
import type { ValueScanner } from '../ports/value-scanner.ts';
import type { Verifier } from '../ports/verifier.ts';
import type { ConcurrencyLimit } from './concurrency-limit.ts';

export type Log = (message: string, fields?: Record<string, unknown>) => void;

export interface ReconcileDeps {
  store: RevisionStore;
  observer: KeyObserver;
  /**
   * Each fresh key-id report's EncryptionConfiguration, whatever provider it reports on: which kms
   * provider writes, when config.provider pins none; absent: only a pinned provider is followed.
   */
  configs?: ReportedConfigs;
  adoption: AdoptionReader;
  rewriter: ObjectRewriter;
  /** How many rewrites run at once (shared/core/concurrency-limit.ts); absent: config.concurrency. */
  limit?: ConcurrencyLimit;
  /**
   * Finds one object's uid and resourceVersion, so a retry pass re-patches refused and offending
   * objects by name; absent: their resources are listed again instead.
   */
  lookup?: ObjectLookup;
  /** Absent when etcd is not reachable: completions are then reported unverified. */
  verifier?: Verifier;
  /** Every value under the etcd prefix, classified (the key inventory); absent without etcd. */
  scanner?: ValueScanner;
  /**
   * How etcd stores a page of objects, so the migration patches only the stale ones; absent
   * without etcd (every listed object is then patched).
   */
  storedEncryption?: StoredEncryptionReader;
  lock: Lock;
  clock: Clock;
  /** API discovery, to resolve the EncryptionConfiguration's resources and wildcards. */
  served?: ServedResources;
  events?: EventSink;
  log?: Log;
  /** Called after every checkpoint (progress bars, metrics). */
  onProgress?: (revision: Revision) => void;
  /** How a retry waits between attempts (default a timer; tests move a fake clock instead). */
  sleep?: (ms: number) => Promise<void>;
}

export interface ReconcileConfig {
  /**
   * The kms provider name in the EncryptionConfiguration, when pinned (REKEY_PROVIDER); unset =
   * the one every node's reported configuration writes with (shared/core/followed-provider.ts).
   */
  provider?: string;
  /**
   * An explicit scope (REKEY_RESOURCES), e.g. ['secrets']; unset = the resources the reported
   * EncryptionConfiguration gives the provider (shared/core/resolve-scope.ts).
   */
  resources?: string[];
  /** rekey's namespace: where its revision records live (they are Secrets in scope too). */
  namespace?: string;
  /** Who runs this step (pod name, CLI host+pid): the Lease holder. */
  holder: string;
  /** Work no longer than this per call (well under the Knative request timeout). */
  budgetMs?: number;
  /**
   * The hard limit, in ms from the step's start: past it the step stops where it stands (calls in
   * flight cancelled, no new patch, the last checkpoint kept). Default budget + 30 s
   * (shared/core/step-stop.ts), under the request timeouts in infra/.
   */
  deadlineMs?: number;
  pageSize?: number;
  concurrency?: number;
  /** When apiserver metrics cannot be read, wait this long after the key_id was observed. */
  fallbackWaitMs?: number;
  keepRevisions?: number;
  lockTtlMs?: number;
  /**
   * Rewrite everything with a real change (an annotation), for providers whose key_id hides a
   * rotation (docs/architecture.md R9). New resourceVersions and watch events for every object: opt-in only.
   */
  force?: boolean;
  /**
   * Re-patch refused and offending objects of a Degraded revision on this step, whatever its
   * backoff says (docs/architecture.md R13): an operator's `rekey migrate` after fixing the cause.
   */
  retryNow?: boolean;
}

/** The settings of one step or command once the provider it follows is known. */
export type ProviderConfig = ReconcileConfig & { provider: string };
