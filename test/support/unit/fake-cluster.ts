// The in-memory "cluster" the reconcileStep tests run on: objects that remember which key_id
// protects them, behind the ObjectRewriter port, on a clock that only moves when told; every
// list and patch is kept as data.

import assert from 'node:assert/strict';
import { keyIdHash, keyMatcher } from '../../../shared/domain/key-id.ts';
import type { PatchAttempt } from '../../../shared/domain/rewrite-outcome.ts';
import { verificationResult } from '../../../shared/domain/verification.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type {
  CallOptions,
  ListPage,
  ObjectRef,
  ObjectRewriter,
} from '../../../shared/ports/object-rewriter.ts';
import type { StoredEncryptionReader } from '../../../shared/ports/stored-encryption.ts';
import type { Verifier } from '../../../shared/ports/verifier.ts';

export const T0 = Date.parse('2025-01-01T01:00:00.000Z');

/** How the fake marks the token a 410 carries (the key it goes on after follows). */
export const INCONSISTENT = 'inconsistent:';

export class FakeClock implements Clock {
  t = T0;
  now() {
    return new Date(this.t);
  }
  advance(ms: number) {
    this.t += ms;
  }
  iso() {
    return new Date(this.t).toISOString();
  }
}

export interface FakeObject {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
  keyId: string;
  annotations: Record<string, string>;
  /** The apiserver answers 200 but does not re-encrypt it (so etcd still shows the old key). */
  stuck?: boolean;
}

/** A resource's objects as etcd would hold them, behind the ObjectRewriter port. */
export class FakeCluster implements ObjectRewriter {
  objects = new Map<string, FakeObject>();
  /** The key_id the apiservers write with now. */
  currentKeyId: string;
  private rv = 100;
  /** `noop|forced:<ns>/<name>@<rv presented>` for every patch call, in order. */
  patches: string[] = [];
  lists: { continueToken: string | undefined; limit: number }[] = [];
  /** How long a list takes on the clock (lets a test spend the budget). */
  listCostMs = 0;
  expireNextToken = false;
  /**
   * An expired token's 410 carries a token to go on with, as the apiserver's does ("inconsistent
   * continue": after the same key, at the newest resourceVersion): {@link INCONSISTENT} + the key.
   */
  expiredCarriesToken = false;
  /** Runs after a page is listed, before it is patched (concurrent writers, deletions). */
  afterList: ((page: ObjectRef[]) => void) | undefined;
  /** Objects (`<ns>/<name>`) whose patches are refused, as by an admission policy. */
  refused = new Map<string, Extract<PatchAttempt, { ok: false }>>();
  /** Set: every patch gets this answer (a brownout: 429, 5xx, no response). */
  patchesFailWith: Extract<PatchAttempt, { ok: false }> | undefined;
  /** Set: every list throws this retryable error (a brownout of lists). */
  listsFailWith: (Error & { retryable: true }) | undefined;
  /** `<resource>:<ns>/<name>` for every lookup by name, in order. */
  lookups: string[] = [];

  private clock: FakeClock;

  constructor(clock: FakeClock, keyId: string, count: number) {
    this.clock = clock;
    this.currentKeyId = keyId;
    for (let i = 0; i < count; i++) {
      const namespace = `ns-${i % 2}`;
      const name = `s-${String(i).padStart(3, '0')}`;
      this.objects.set(`${namespace}/${name}`, {
        namespace,
        name,
        uid: `uid-${i}`,
        resourceVersion: this.nextRv(),
        keyId,
        annotations: {},
      });
    }
  }

  nextRv() {
    return String(++this.rv);
  }

  /** A write by someone else (goes through the apiserver, so under the current key). */
  userWrite(key: string) {
    const o = this.objects.get(key);
    assert.ok(o, key);
    o.resourceVersion = this.nextRv();
    o.keyId = this.currentKeyId;
  }

  get(key: string): FakeObject {
    const o = this.objects.get(key);
    assert.ok(o, key);
    return o;
  }

  sorted(): FakeObject[] {
    return [...this.objects.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([, o]) => o);
  }

  async listPage({
    continueToken,
    limit,
  }: {
    resource: string;
    continueToken?: string;
    limit: number;
  }): Promise<ListPage> {
    this.lists.push({ continueToken, limit });
    this.clock.advance(this.listCostMs);
    if (this.listsFailWith) throw this.listsFailWith;
    if (continueToken && this.expireNextToken) {
      this.expireNextToken = false;
      const resume = `${INCONSISTENT}${continueToken.replace(INCONSISTENT, '')}`;
      return this.expiredCarriesToken
        ? { items: [], expired: true, continue: resume }
        : { items: [], expired: true };
    }
    const all = [...this.objects.keys()].sort();
    const after = continueToken?.replace(INCONSISTENT, '');
    const rest = after ? all.filter((k) => k > after) : all;
    const keys = rest.slice(0, limit);
    const items = keys.map((k) => {
      const { namespace, name, uid, resourceVersion } = this.get(k);
      return { namespace, name, uid, resourceVersion };
    });
    this.afterList?.(items);
    const last = keys.at(-1);
    return rest.length > limit && last ? { items, continue: last } : { items };
  }

  private patch(kind: string, ref: ObjectRef, marker?: string): PatchAttempt {
    const key = `${ref.namespace}/${ref.name}`;
    this.patches.push(`${kind}:${key}@${ref.resourceVersion}`);
    const refusal = this.patchesFailWith ?? this.refused.get(key);
    if (refusal) return refusal;
    const o = this.objects.get(key);
    if (!o) return { ok: false, status: 404, reason: 'NotFound' };
    if (o.uid !== ref.uid || o.resourceVersion !== ref.resourceVersion) {
      return { ok: false, status: 409, reason: 'Conflict' };
    }
    const before = o.resourceVersion;
    // a no-op update is written only when the stored value changes, i.e. under another key_id
    const writes = marker !== undefined || (o.keyId !== this.currentKeyId && !o.stuck);
    if (writes) {
      o.resourceVersion = this.nextRv();
      if (!o.stuck) o.keyId = this.currentKeyId;
      if (marker !== undefined) o.annotations['rekey.dev/forced-rewrite'] = marker;
    }
    return { ok: true, before, after: o.resourceVersion };
  }

  /** The ObjectLookup port: one object's metadata by name, as a field-selected list finds it. */
  async find(resource: string, namespace: string, name: string): Promise<ObjectRef | undefined> {
    this.lookups.push(`${resource}:${namespace}/${name}`);
    const o = this.objects.get(`${namespace}/${name}`);
    return o && { namespace, name, uid: o.uid, resourceVersion: o.resourceVersion };
  }

  async noOpPatch(_resource: string, ref: ObjectRef, _options?: CallOptions) {
    return this.patch('noop', ref);
  }

  async forcedPatch(_resource: string, ref: ObjectRef, marker: string, _options?: CallOptions) {
    return this.patch('forced', ref, marker);
  }

  /** The etcd scan: which objects are not under `currentKeyId` (or its hash, when it is empty). */
  verifier(clock: FakeClock): Verifier & { scans: number } {
    const cluster = this;
    return {
      scans: 0,
      async scan({ currentKeyId, currentKeyIdHash, scope }) {
        this.scans++;
        const isCurrent = keyMatcher({
          keyId: currentKeyId,
          keyIdHash: currentKeyIdHash ?? keyIdHash(currentKeyId),
        });
        const offenders = cluster
          .sorted()
          .filter((o) => !isCurrent(o.keyId))
          .map((o) => `${scope[0]?.resource}/${o.namespace}/${o.name}`);
        return {
          available: true,
          result: verificationResult(offenders, {
            checkedAt: clock.iso(),
            scanned: cluster.objects.size,
          }),
        };
      },
    };
  }

  /**
   * The StoredEncryptionReader port: what etcd holds for each object, as KMS v2 of `provider` under
   * its key_id (a stuck object under the key it kept). `failWith` set: every read throws it.
   */
  storedEncryption(
    provider: string,
  ): StoredEncryptionReader & { reads: string[][]; failWith?: Error } {
    const cluster = this;
    return {
      reads: [],
      async read(_resource, objects) {
        this.reads.push(objects.map((o) => `${o.namespace}/${o.name}`));
        if (this.failWith) throw this.failWith;
        return objects.map((o) => {
          const stored = cluster.objects.get(`${o.namespace}/${o.name}`);
          return stored && { kind: 'kms-v2' as const, provider, keyID: stored.keyId };
        });
      },
    };
  }
}
