// The judgement behind "verified": folds one scan of everything under the etcd prefix into a
// per-resource tally and decides whether the provider's older key_ids are gone. Pure: it sees each
// value's classification (never the value), so the rules can be tested on data alone.
//
// Clean means all of (docs/architecture.md, "The proof"):
// 1. every value of every resource in scope is under the write provider: for a resource where the
//    provider writes, under its current key_id; where it only reads, under nothing of the provider's;
// 2. no value anywhere under the prefix is wrapped by an older key_id of this provider (old data of
//    an earlier configuration counts too);
// 3. the scan is not vacuous: the prefix holds apiserver data, and each resource's scanned count is
//    at least what the API listed at scan time (a wrong prefix or storage path reads nothing).
import { underCurrentKey } from './current-key.ts';
import type { EncryptionKind } from './encrypted-value.ts';
import { listNames } from './format.ts';
import { keyIdHash, keyMatcher } from './key-id.ts';

/** A resource in scope and where its values live in etcd. */
export interface ProofScope {
  /** EncryptionConfiguration name: `secrets`, `deployments.apps`, `widgets.example.com`. */
  resource: string;
  /** The etcd key prefix of its values, with a trailing slash. */
  storagePrefix: string;
  /** The provider is the resource's write (first) provider; false: it only decrypts there. */
  write: boolean;
}

/** What the scan says of one value: its key and its classification, never its bytes. */
export interface ScannedValue {
  key: string;
  kind: EncryptionKind;
  provider?: string;
  keyID?: string;
  error?: string;
}

/** Per resource in scope: how its values are stored. */
export interface ResourceProof {
  resource: string;
  storagePrefix: string;
  write: boolean;
  scanned: number;
  /** Under the provider's current key_id (where the provider writes). */
  current: number;
  /** Under an older key_id of this provider. */
  olderKeyIds: number;
  /** Under another provider (another KMS, aescbc, aesgcm, secretbox) or unreadable. */
  otherProviders: number;
  /** Stored without encryption. */
  plaintext: number;
  /** How many objects the API listed at scan time; absent when it could not be counted. */
  listed?: number;
}

/** The verdict of one scan. `problems` say why a scan proves nothing (it is then not clean). */
export interface ProofResult {
  clean: boolean;
  resources: ResourceProof[];
  /** Values outside the scope still wrapped by an older key_id of this provider. */
  strays: number;
  /** Every value read under the prefix. */
  totalScanned: number;
  /** Offending values (names only), scope first, then strays. */
  offenders: string[];
  offenderCount: number;
  problems: string[];
}

/** The most offender names a result keeps (annotations are limited to 256 KiB in total). */
export const MAX_PROOF_OFFENDERS = 50;

type Verdict = 'current' | 'olderKeyIds' | 'otherProviders' | 'plaintext' | 'elsewhere';

function verdictFor(
  v: ScannedValue,
  provider: string,
  isCurrent: (keyID: string) => boolean,
  write: boolean,
): Verdict {
  const ours = (v.kind === 'kms-v2' || v.kind === 'kms-v1') && v.provider === provider;
  if (!write) {
    // the provider only decrypts here: its values must have moved to the write provider
    if (ours) return isCurrent(v.keyID ?? '') ? 'otherProviders' : 'olderKeyIds';
    return 'elsewhere';
  }
  if (v.kind === 'identity') return 'plaintext';
  if (underCurrentKey(v, provider, isCurrent)) return 'current';
  if (!ours || v.error) return 'otherProviders';
  return 'olderKeyIds';
}

/** The object a key names, as `<resource>/<namespace>/<name>` (or `<resource>/<name>`). */
function objectName(key: string, scope: ProofScope | undefined, etcdPrefix: string): string {
  if (scope) return `${scope.resource}/${key.slice(scope.storagePrefix.length)}`;
  const base = `${etcdPrefix.replace(/\/+$/, '')}/`;
  return key.startsWith(base) ? key.slice(base.length) : key;
}

/** A running tally over one scan; `add` every value, then `result` once. */
export class ProofTally {
  readonly #scope: ProofScope[];
  readonly #byResource = new Map<string, ResourceProof>();
  readonly #offenders: string[] = [];
  #offenderCount = 0;
  #strays = 0;
  #total = 0;
  readonly provider: string;
  readonly currentKeyId: string;
  readonly etcdPrefix: string;
  readonly #isCurrent: (keyID: string) => boolean;

  /**
   * `currentKeyId` empty: only its hash `currentKeyIdHash` is known (a revision recorded from the
   * apiservers' metrics), and each value's key_id is compared by its hash.
   */
  constructor(
    scope: readonly ProofScope[],
    {
      provider,
      currentKeyId,
      currentKeyIdHash,
      etcdPrefix,
    }: { provider: string; currentKeyId: string; currentKeyIdHash?: string; etcdPrefix: string },
  ) {
    this.provider = provider;
    this.currentKeyId = currentKeyId;
    this.etcdPrefix = etcdPrefix;
    this.#isCurrent = keyMatcher({
      keyId: currentKeyId,
      keyIdHash: currentKeyIdHash ?? keyIdHash(currentKeyId),
    });
    // longest prefix first: `services/endpoints/` must not be taken for `services/`
    this.#scope = [...scope].sort((a, b) => b.storagePrefix.length - a.storagePrefix.length);
    for (const s of scope) {
      this.#byResource.set(s.resource, {
        resource: s.resource,
        storagePrefix: s.storagePrefix,
        write: s.write,
        scanned: 0,
        current: 0,
        olderKeyIds: 0,
        otherProviders: 0,
        plaintext: 0,
      });
    }
  }

  add(v: ScannedValue): void {
    this.#total++;
    const scope = this.#scope.find((s) => v.key.startsWith(s.storagePrefix));
    if (!scope) {
      const ours = (v.kind === 'kms-v2' || v.kind === 'kms-v1') && v.provider === this.provider;
      if (ours && !this.#isCurrent(v.keyID ?? '')) {
        this.#strays++;
        this.#offend(objectName(v.key, undefined, this.etcdPrefix));
      }
      return;
    }
    const row = this.#byResource.get(scope.resource) as ResourceProof;
    row.scanned++;
    const verdict = verdictFor(v, this.provider, this.#isCurrent, scope.write);
    if (verdict === 'elsewhere') return;
    row[verdict]++;
    if (verdict !== 'current') this.#offend(objectName(v.key, scope, this.etcdPrefix));
  }

  #offend(name: string): void {
    this.#offenderCount++;
    if (this.#offenders.length < MAX_PROOF_OFFENDERS) this.#offenders.push(name);
  }

  /** The verdict, given how many objects the API listed per resource at scan time. */
  result(listed: ReadonlyMap<string, number>): ProofResult {
    const resources = [...this.#byResource.values()].map((r) => {
      const n = listed.get(r.resource);
      return n === undefined ? { ...r } : { ...r, listed: n };
    });
    const problems = vacuityProblems(resources, this.#total, this.etcdPrefix);
    return {
      clean: this.#offenderCount === 0 && problems.length === 0,
      resources,
      strays: this.#strays,
      totalScanned: this.#total,
      offenders: [...this.#offenders],
      offenderCount: this.#offenderCount,
      problems,
    };
  }
}

/**
 * Why a scan proves nothing: an etcd prefix with no apiserver data, a resource the API could not
 * count, or a resource whose storage path held fewer values than the API lists.
 */
export function vacuityProblems(
  resources: readonly ResourceProof[],
  totalScanned: number,
  etcdPrefix: string,
): string[] {
  if (resources.length === 0) return ['no resource is in scope: there is nothing to prove'];
  if (totalScanned === 0) {
    return [
      `the etcd prefix ${etcdPrefix} holds no apiserver data: is it the apiservers' --etcd-prefix?`,
    ];
  }
  const problems: string[] = [];
  const uncounted = resources.filter((r) => r.listed === undefined).map((r) => r.resource);
  if (uncounted.length > 0) {
    problems.push(
      `the API could not count ${listNames(uncounted)}: a scan cannot be checked against it`,
    );
  }
  for (const r of resources) {
    if (r.listed !== undefined && r.scanned < r.listed) {
      problems.push(
        `${r.resource}: the API lists ${r.listed} object(s) but ${r.storagePrefix} held ${r.scanned}: wrong etcd prefix or storage path?`,
      );
    }
  }
  return problems;
}
