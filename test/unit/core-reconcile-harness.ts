// The fakes the reconcileStep tests run on: an in-memory "cluster" whose objects remember which
// key_id protects them, apiservers that report key_ids, a lock, a clock that only moves when told,
// each recording its side effects as data.

import assert from 'node:assert/strict';
import { createMemoryRevisionStore } from '../../shared/adapters/memory/revision-store.ts';
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { apiserverIdHash } from '../../shared/domain/convergence.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../shared/domain/key-id-metrics.ts';
import type { Observation } from '../../shared/domain/observation.ts';
import type { PluginHealth } from '../../shared/domain/phase.ts';
import type { Revision } from '../../shared/domain/revision.ts';
import type { PatchAttempt } from '../../shared/domain/rewrite-outcome.ts';
import { verificationResult } from '../../shared/domain/verification.ts';
import type { AdoptionReader } from '../../shared/ports/adoption-reader.ts';
import type { Clock } from '../../shared/ports/clock.ts';
import type { EventSink, RekeyEventData, RekeyEventType } from '../../shared/ports/event-sink.ts';
import type { KeyObserver } from '../../shared/ports/key-observer.ts';
import type { Lock, LockHandle } from '../../shared/ports/lock.ts';
import type { ListPage, ObjectRef, ObjectRewriter } from '../../shared/ports/object-rewriter.ts';
import type { RevisionStore } from '../../shared/ports/revision-store.ts';
import type { Verifier } from '../../shared/ports/verifier.ts';
import { rev } from './domain-fixtures.ts';

export const P = 'p';
export const T0 = Date.parse('2025-01-01T01:00:00.000Z');
export const A = apiserverIdHash('apiserver-a');
export const B = apiserverIdHash('apiserver-b');

// ---- fakes -------------------------------------------------------------------------------------

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
  /** Runs after a page is listed, before it is patched (concurrent writers, deletions). */
  afterList: ((page: ObjectRef[]) => void) | undefined;

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
    if (continueToken && this.expireNextToken) {
      this.expireNextToken = false;
      return { items: [], expired: true };
    }
    const all = [...this.objects.keys()].sort();
    const rest = continueToken ? all.filter((k) => k > continueToken) : all;
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

  async noOpPatch(_resource: string, ref: ObjectRef) {
    return this.patch('noop', ref);
  }

  async forcedPatch(_resource: string, ref: ObjectRef, marker: string) {
    return this.patch('forced', ref, marker);
  }

  /** The etcd scan: which objects are not under `currentKeyId`. */
  verifier(clock: FakeClock): Verifier & { scans: number } {
    const cluster = this;
    return {
      scans: 0,
      async scan({ currentKeyId, resources }) {
        this.scans++;
        const offenders = cluster
          .sorted()
          .filter((o) => o.keyId !== currentKeyId)
          .map((o) => `${resources[0]}/${o.namespace}/${o.name}`);
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
}

export class FakeObserver implements KeyObserver {
  observations: Observation[] = [];
  pluginHealth: PluginHealth = { status: 'healthy' };
  report(keyId: string, observedAt: string) {
    this.observations = [{ provider: P, keyId, source: 'plugin-status', observedAt }];
  }
  async observe() {
    return { observations: structuredClone(this.observations), pluginHealth: this.pluginHealth };
  }
}

/** Apiservers (by identity Lease) and the key_id each one's plugin reports. */
export class FakeAdoption implements AdoptionReader {
  reports = new Map<string, string>();
  hurries = 0;
  async read() {
    const samples: KeyIdStatusSample[] = [...this.reports].map(([apiserver, keyId]) => ({
      providerName: P,
      keyIdHash: keyIdHash(keyId),
      apiserverIdHash: apiserver,
      timestamp: T0 / 1000,
    }));
    return { liveApiservers: [...this.reports.keys()], samples, metricsReadable: true };
  }
  async hurry() {
    this.hurries++;
  }
}

export class FakeLock implements Lock {
  held = new Map<string, { holder: string; expiresAt: number }>();
  calls: string[] = [];
  private clock: FakeClock;
  constructor(clock: FakeClock) {
    this.clock = clock;
  }
  async tryAcquire(name: string, holder: string, ttlMs: number) {
    this.calls.push(`acquire:${name}:${holder}`);
    const h = this.held.get(name);
    if (h && h.holder !== holder && h.expiresAt > this.clock.t) {
      return { acquired: false as const, heldBy: h.holder };
    }
    const expiresAt = this.clock.t + ttlMs;
    this.held.set(name, { holder, expiresAt });
    return {
      acquired: true as const,
      handle: { name, holder, expiresAt: new Date(expiresAt).toISOString() },
    };
  }
  async renew(handle: LockHandle, ttlMs: number) {
    this.calls.push(`renew:${handle.name}`);
    const h = this.held.get(handle.name);
    if (h?.holder !== handle.holder) return undefined;
    h.expiresAt = this.clock.t + ttlMs;
    return { ...handle, expiresAt: new Date(h.expiresAt).toISOString() };
  }
  async release(handle: LockHandle) {
    this.calls.push(`release:${handle.name}`);
    if (this.held.get(handle.name)?.holder === handle.holder) this.held.delete(handle.name);
  }
}

/** Wraps the memory store to keep every revision it was asked to write. */
export function recordingStore(initial: Revision[] = []) {
  const inner = createMemoryRevisionStore(initial);
  const updates: Revision[] = [];
  const store: RevisionStore & { all(): Revision[] } = {
    all: () => inner.all(),
    list: (p) => inner.list(p),
    createIfAbsent: (r) => inner.createIfAbsent(r),
    async update(r, v) {
      updates.push(structuredClone(r));
      return inner.update(r, v);
    },
    delete: (n, v) => inner.delete(n, v),
  };
  return { store, updates };
}

// ---- harness -----------------------------------------------------------------------------------

export interface Harness {
  clock: FakeClock;
  cluster: FakeCluster;
  observer: FakeObserver;
  adoption: FakeAdoption;
  lock: FakeLock;
  store: RevisionStore & { all(): Revision[] };
  updates: Revision[];
  events: { type: RekeyEventType; data: RekeyEventData }[];
  verifier: (Verifier & { scans: number }) | undefined;
  deps: ReconcileDeps;
  config: ReconcileConfig;
  step(over?: Partial<ReconcileConfig>): Promise<StepOutcome>;
  revision(n: number): Revision;
}

export function harness({
  objects = 25,
  keyId = 'k1',
  revisions = [] as Revision[],
  verifier = true,
  pageSize = 10,
}: {
  objects?: number;
  keyId?: string;
  revisions?: Revision[];
  verifier?: boolean;
  pageSize?: number;
} = {}): Harness {
  const clock = new FakeClock();
  const cluster = new FakeCluster(clock, keyId, objects);
  const observer = new FakeObserver();
  const adoption = new FakeAdoption();
  const lock = new FakeLock(clock);
  const { store, updates } = recordingStore(revisions);
  const events: Harness['events'] = [];
  const sink: EventSink = {
    async emit(type, data) {
      events.push({ type, data: structuredClone(data) });
    },
  };
  const v = verifier ? cluster.verifier(clock) : undefined;
  const deps: ReconcileDeps = {
    store,
    observer,
    adoption,
    rewriter: cluster,
    lock,
    clock,
    events: sink,
    ...(v ? { verifier: v } : {}),
  };
  const config: ReconcileConfig = {
    provider: P,
    resources: ['secrets'],
    holder: 'me',
    pageSize,
    concurrency: 4,
    budgetMs: 60_000,
  };
  return {
    clock,
    cluster,
    observer,
    adoption,
    lock,
    store,
    updates,
    events,
    verifier: v,
    deps,
    config,
    step: (over = {}) => reconcileStep(deps, { ...config, ...over }),
    revision(n) {
      const r = store.all().find((x) => x.number === n);
      assert.ok(r, `revision ${n} exists`);
      return r;
    },
  };
}

/** A provider that rotated from k1 (revision 1, Completed) to k2, which the plugin reports now. */
export function rotated(over: Parameters<typeof harness>[0] = {}): Harness {
  const h = harness({
    revisions: [
      rev({
        number: 1,
        keyId: 'k1',
        phase: 'Completed',
        observedAt: new Date(T0 - 3_600_000).toISOString(),
        verification: {
          clean: true,
          offenders: [],
          checkedAt: new Date(T0 - 60_000).toISOString(),
        },
      }),
    ],
    ...over,
  });
  h.observer.report('k2', h.clock.iso());
  h.cluster.currentKeyId = 'k2';
  h.adoption.reports.set(A, 'k2');
  return h;
}

export function asStep(o: StepOutcome): Extract<StepOutcome, { kind: 'step' }> {
  assert.equal(o.kind, 'step', JSON.stringify(o));
  assert.ok(o.kind === 'step');
  return o;
}

export const types = (h: Harness) => h.events.map((e) => e.type);

/** No object was patched twice at the same resourceVersion. */
export function assertNoRepeatedPatch(patches: readonly string[]) {
  const seen = new Set<string>();
  for (const p of patches) {
    const id = p.slice(p.indexOf(':') + 1);
    assert.ok(!seen.has(id), `patched twice at the same resourceVersion: ${id}`);
    seen.add(id);
  }
}
