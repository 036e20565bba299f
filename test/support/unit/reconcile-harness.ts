// The reconcileStep tests' harness: the in-memory cluster and clock (fake-cluster.ts) wired
// with fakes of the other ports (apiservers that report key_ids, a plugin observer, a lock, a
// revision store), each recording its side effects as data.

import assert from 'node:assert/strict';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import type { ReconcileConfig, ReconcileDeps } from '../../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../../shared/core/reconcile-step.ts';
import { apiserverIdHash } from '../../../shared/domain/convergence.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../../shared/domain/key-id-metrics.ts';
import type { Observation } from '../../../shared/domain/observation.ts';
import type { PluginHealth } from '../../../shared/domain/phase.ts';
import type { Revision } from '../../../shared/domain/revision.ts';
import type { AdoptionReader } from '../../../shared/ports/adoption-reader.ts';
import type {
  EventSink,
  RekeyEventType,
  RevisionEventData,
} from '../../../shared/ports/event-sink.ts';
import type { KeyObserver } from '../../../shared/ports/key-observer.ts';
import type { Lock, LockHandle } from '../../../shared/ports/lock.ts';
import type { RevisionStore } from '../../../shared/ports/revision-store.ts';
import type { Verifier } from '../../../shared/ports/verifier.ts';
import { rev } from './domain-fixtures.ts';
import { FakeClock, FakeCluster, T0 } from './fake-cluster.ts';

export { T0 };

export const P = 'p';
export const A = apiserverIdHash('apiserver-a');
export const B = apiserverIdHash('apiserver-b');

// ---- fakes of the other ports ------------------------------------------------------------

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
    return {
      liveApiservers: [...this.reports.keys()],
      samples,
      kmsUnhealthy: [],
      metricsReadable: true,
      endpoints: { source: 'configured' as const, servers: ['https://fake:6443'] },
    };
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
  /** What the step emitted: events about a revision only. */
  events: { type: RekeyEventType; data: RevisionEventData }[];
  verifier: (Verifier & { scans: number }) | undefined;
  deps: ReconcileDeps;
  config: ReconcileConfig;
  step(over?: Partial<ReconcileConfig>): Promise<StepOutcome>;
  /**
   * The continue tokens each step listed, one array per step (undefined: from the start). A step
   * lists the page after the one it patches ahead of time, so one that stops early has listed one
   * page more than it counted; the next step lists that page again from its checkpoint.
   */
  stepLists: (string | undefined)[][];
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
      events.push({ type, data: structuredClone(data) as RevisionEventData });
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
  const stepLists: (string | undefined)[][] = [];
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
    async step(over = {}) {
      const from = cluster.lists.length;
      try {
        return await reconcileStep(deps, { ...config, ...over });
      } finally {
        stepLists.push(cluster.lists.slice(from).map((l) => l.continueToken));
      }
    },
    stepLists,
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
