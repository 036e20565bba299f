// reconcileStep over in-memory ports: an in-memory "cluster" whose objects remember which key_id
// protects them, apiservers that report key_ids, a lock, a clock that only moves when told. Every
// side effect (patches, lists, store writes, events, lock calls) is recorded and asserted as data.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../shared/adapters/memory/revision-store.ts';
import type { ReconcileConfig, ReconcileDeps } from '../../shared/core/deps.ts';
import { reconcileStep, type StepOutcome } from '../../shared/core/reconcile-step.ts';
import { apiserverIdHash } from '../../shared/domain/convergence.ts';
import { keyIdHash } from '../../shared/domain/key-id.ts';
import type { KeyIdStatusSample } from '../../shared/domain/key-id-metrics.ts';
import type { Observation } from '../../shared/domain/observation.ts';
import { type PluginHealth, UNVERIFIED_NOTE } from '../../shared/domain/phase.ts';
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

const P = 'p';
const T0 = Date.parse('2025-01-01T01:00:00.000Z');
const A = apiserverIdHash('apiserver-a');
const B = apiserverIdHash('apiserver-b');

// ---- fakes -------------------------------------------------------------------------------------

class FakeClock implements Clock {
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

interface FakeObject {
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
class FakeCluster implements ObjectRewriter {
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

class FakeObserver implements KeyObserver {
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
class FakeAdoption implements AdoptionReader {
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

class FakeLock implements Lock {
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
function recordingStore(initial: Revision[] = []) {
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

interface Harness {
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

function harness({
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
function rotated(over: Parameters<typeof harness>[0] = {}): Harness {
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

function asStep(o: StepOutcome): Extract<StepOutcome, { kind: 'step' }> {
  assert.equal(o.kind, 'step', JSON.stringify(o));
  assert.ok(o.kind === 'step');
  return o;
}

const types = (h: Harness) => h.events.map((e) => e.type);

/** No object was patched twice at the same resourceVersion. */
function assertNoRepeatedPatch(patches: readonly string[]) {
  const seen = new Set<string>();
  for (const p of patches) {
    const id = p.slice(p.indexOf(':') + 1);
    assert.ok(!seen.has(id), `patched twice at the same resourceVersion: ${id}`);
    seen.add(id);
  }
}

// ---- tests -------------------------------------------------------------------------------------

describe('reconcileStep: recording revisions', () => {
  it('records the first observation as revision 1 and announces it', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');

    const o = asStep(await h.step());

    assert.equal(o.revision, 'encryption-key-p-1');
    assert.equal(o.keyIdHash, keyIdHash('k1'));
    assert.deepEqual(
      h.store.all().map((r) => [r.name, r.keyId, r.number, r.source]),
      [['encryption-key-p-1', 'k1', 1, 'plugin-status']],
    );
    assert.equal(h.events[0]?.type, 'revision.created');
    assert.deepEqual(h.events[0]?.data, {
      provider: P,
      revision: 'encryption-key-p-1',
      keyIdHash: keyIdHash('k1'),
      counts: {
        listed: 0,
        reencrypted: 0,
        unchanged: 0,
        conflicts: 0,
        gone: 0,
        failed: 0,
        retried: 0,
      },
    });
    assert.ok(!JSON.stringify(h.events).includes('"k1"'), 'events carry the hash, not the key_id');
    // the baseline: every object is already under k1, so the rewrite writes nothing
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.counts.unchanged, 3);
    assert.equal(o.counts.reencrypted, 0);
    // one holder per step (the process's name plus a step id): concurrent steps of one process exclude each other
    assert.match(h.lock.calls.at(0) ?? '', /^acquire:rekey-p:me\/[0-9a-f]{8}$/);
    assert.deepEqual(h.lock.calls.at(-1), 'release:rekey-p');
    assert.equal(h.lock.held.size, 0);
  });

  it('two concurrent steps of one process: one works, the other is busy', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    const [a, b] = await Promise.all([h.step(), h.step()]);
    assert.deepEqual([a.kind, b.kind].sort(), ['busy', 'step']);
  });

  it('says so when no key_id is observed and no revision exists', async () => {
    const h = harness();
    const o = await h.step();
    assert.equal(o.kind, 'no-key-id');
    assert.deepEqual(h.store.all(), []);
    assert.deepEqual(h.cluster.patches, []);
  });

  it('records a duplicate observation once', async () => {
    const h = harness({ objects: 3 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    h.clock.advance(1000);
    h.observer.report('k1', h.clock.iso());
    await h.step();
    await h.step();
    assert.deepEqual(
      h.store.all().map((r) => r.name),
      ['encryption-key-p-1'],
    );
    assert.equal(types(h).filter((t) => t === 'revision.created').length, 1);
  });

  it('ignores an older key_id reported after the newer revision exists', async () => {
    const h = rotated();
    await h.step();
    assert.equal(h.revision(2).keyId, 'k2');
    const before = h.store.all().length;
    h.cluster.patches = [];

    // a late report of the previous key (and out of order with the current one)
    h.observer.observations = [
      { provider: P, keyId: 'k2', source: 'plugin-status', observedAt: h.clock.iso() },
      {
        provider: P,
        keyId: 'k1',
        source: 'apiserver-metrics',
        observedAt: new Date(T0 - 1000).toISOString(),
      },
    ];
    const o = asStep(await h.step());
    assert.equal(o.revision, 'encryption-key-p-2');
    assert.equal(h.store.all().length, before);

    // an unknown key_id observed before revision 2's observation: late, not a rotation
    h.observer.report('k0', new Date(T0 - 60_000).toISOString());
    const late = asStep(await h.step());
    assert.equal(late.revision, 'encryption-key-p-2');
    assert.equal(h.store.all().length, before);
    assert.equal(types(h).filter((t) => t === 'revision.created').length, 1);
    assert.deepEqual(h.cluster.patches, [], 'nothing rewritten for a late report');
  });

  it('does nothing while another holder has the lock', async () => {
    const h = rotated();
    await h.lock.tryAcquire('rekey-p', 'other-pod', 60_000);
    const o = await h.step();
    assert.deepEqual(o, { kind: 'busy', provider: P, heldBy: 'other-pod' });
    assert.equal(h.store.all().length, 1, 'no revision recorded');
    assert.deepEqual(h.cluster.patches, []);
    assert.deepEqual(h.events, []);
    assert.equal(h.lock.held.get('rekey-p')?.holder, 'other-pod', 'its lock is left alone');
  });
});

describe('reconcileStep: convergence gate', () => {
  it('waits, patching nothing, while an apiserver has not adopted the key', async () => {
    const h = rotated();
    h.adoption.reports.set(B, 'k1');

    const o = asStep(await h.step());

    assert.equal(o.revision, 'encryption-key-p-2');
    assert.equal(o.step.kind, 'wait-convergence');
    assert.ok(o.step.kind === 'wait-convergence');
    assert.deepEqual(o.step.pending, [B]);
    assert.equal(o.phase, 'Converging');
    assert.equal(o.more, true);
    assert.deepEqual(h.cluster.patches, []);
    assert.deepEqual(h.cluster.lists, []);
    assert.equal(h.adoption.hurries, 1);
    const r = h.revision(2);
    assert.equal(r.phase, 'Converging');
    assert.equal(r.convergence?.converged, false);
    assert.deepEqual(r.convergence?.pending, [B]);
    assert.deepEqual(types(h), ['revision.created']);
  });

  it('once converged, migrates page by page with a checkpoint each, verifies and completes', async () => {
    const h = rotated();
    h.adoption.reports.set(B, 'k1');
    await h.step();
    h.updates.length = 0;
    h.adoption.reports.set(B, 'k2');
    h.clock.advance(5000);

    const o = asStep(await h.step());

    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.phase, 'Completed');
    assert.equal(o.more, false);
    assert.equal(o.counts.listed, 25);
    assert.equal(o.counts.reencrypted, 25);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
    assert.equal(h.cluster.patches.length, 25);
    assert.ok(h.cluster.patches.every((p) => p.startsWith('noop:')));
    assertNoRepeatedPatch(h.cluster.patches);
    assert.deepEqual(
      h.cluster.lists.map((l) => l.limit),
      [10, 10, 10],
    );

    // one store write per page, carrying that page's checkpoint, in order
    const checkpoints = h.updates
      .map((r) => r.progress.resources[0])
      .filter((cp) => cp !== undefined)
      .map((cp) => `${cp.counts.listed}:${cp.done}:${cp.continueToken ?? '-'}`);
    const pages = [...new Set(checkpoints)].filter((c) => !c.startsWith('0:'));
    assert.deepEqual(pages, ['10:false:ns-0/s-018', '20:false:ns-1/s-013', '25:true:-']);
    assert.deepEqual(
      h.updates.map((r) => r.phase),
      ['Migrating', 'Migrating', 'Migrating', 'Migrating', 'Verifying', 'Verifying', 'Completed'],
    );
    assert.equal(h.lock.calls.filter((c) => c.startsWith('renew:')).length, 3);

    const r = h.revision(2);
    assert.equal(r.phase, 'Completed');
    assert.equal(r.verification?.clean, true);
    assert.equal(r.lastError, undefined);
    assert.equal(h.verifier?.scans, 1);
    assert.deepEqual(types(h), [
      'revision.created',
      'verification.completed',
      'migration.completed',
    ]);
    assert.equal(h.events.at(-1)?.data.counts?.reencrypted, 25);
  });

  it('a Completed revision is left alone', async () => {
    const h = rotated({ objects: 5 });
    await h.step();
    const writes = h.updates.length;
    h.cluster.patches = [];
    const o = asStep(await h.step());
    assert.equal(o.step.kind, 'nothing-to-do');
    assert.equal(o.more, false);
    assert.deepEqual(h.cluster.patches, []);
    assert.equal(h.updates.length, writes);
  });
});

describe('reconcileStep: bounded slices', () => {
  it('stops after a page when the budget is spent and resumes from the continue token', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    const slice = { budgetMs: 1000 };

    const first = asStep(await h.step(slice));
    assert.deepEqual(first.step, { kind: 'migrate' });
    assert.equal(first.more, true);
    assert.equal(first.phase, 'Migrating');
    assert.equal(first.counts.listed, 10);
    assert.equal(h.revision(2).progress.resources[0]?.continueToken, 'ns-0/s-018');
    assert.equal(h.cluster.patches.length, 10);
    assert.equal(h.lock.held.size, 0, 'the lock is released between slices');

    // someone updates an object of the next page meanwhile (with the current key)
    h.cluster.userWrite('ns-0/s-020');

    const second = asStep(await h.step(slice));
    assert.equal(second.more, true);
    assert.equal(second.counts.listed, 20);

    const third = asStep(await h.step(slice));
    assert.deepEqual(third.step, { kind: 'complete', verified: true });
    assert.equal(third.more, false);
    assert.equal(third.counts.listed, 25);
    assert.equal(third.counts.reencrypted, 24);
    assert.equal(third.counts.unchanged, 1);

    assert.deepEqual(
      h.cluster.lists.map((l) => l.continueToken),
      [undefined, 'ns-0/s-018', 'ns-1/s-013'],
    );
    assert.equal(h.cluster.patches.length, 25, 'each object once');
    assertNoRepeatedPatch(h.cluster.patches);
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
  });

  it('counts a concurrent write as a conflict and a deletion as gone, both done', async () => {
    const h = rotated({ objects: 6 });
    h.cluster.afterList = (page) => {
      h.cluster.afterList = undefined;
      const [a, b] = page;
      assert.ok(a && b);
      h.cluster.userWrite(`${a.namespace}/${a.name}`);
      h.cluster.objects.delete(`${b.namespace}/${b.name}`);
    };
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(o.counts.conflicts, 1);
    assert.equal(o.counts.gone, 1);
    assert.equal(o.counts.reencrypted, 4);
    assert.deepEqual(h.revision(2).progress.failed, []);
  });

  it('lists again from the start when the continue token expired (410)', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    await h.step({ budgetMs: 1000 });
    h.cluster.expireNextToken = true;
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.deepEqual(
      h.cluster.lists.map((l) => l.continueToken),
      [undefined, 'ns-0/s-018', undefined, 'ns-0/s-018', 'ns-1/s-013'],
    );
    // the first page is patched again, at its new resourceVersions: nothing left to write
    assertNoRepeatedPatch(h.cluster.patches);
    assert.equal(o.counts.reencrypted, 25);
    assert.equal(o.counts.unchanged, 10);
  });
});

describe('reconcileStep: degraded and recovered', () => {
  it('waits Degraded (recoverable) while the plugin is unhealthy, then resumes', async () => {
    const h = rotated();
    h.cluster.listCostMs = 1000;
    await h.step({ budgetMs: 1000 });
    assert.equal(h.cluster.patches.length, 10);

    h.observer.pluginHealth = { status: 'unhealthy', reason: 'Status: connection refused' };
    const down = asStep(await h.step({ budgetMs: 1000 }));
    assert.equal(down.step.kind, 'degraded');
    assert.ok(down.step.kind === 'degraded');
    assert.equal(down.step.recoverable, true);
    assert.match(down.step.reason, /KMS plugin unhealthy \(Status: connection refused\)/);
    assert.equal(down.phase, 'Degraded');
    assert.equal(down.more, true);
    assert.equal(h.cluster.patches.length, 10, 'nothing rewritten while the plugin is down');
    assert.match(h.revision(2).lastError ?? '', /KMS plugin unhealthy/);
    await h.step({ budgetMs: 1000 });
    assert.equal(types(h).filter((t) => t === 'migration.degraded').length, 1, 'announced once');

    h.observer.pluginHealth = { status: 'healthy' };
    const up = asStep(await h.step());
    assert.deepEqual(up.step, { kind: 'complete', verified: true });
    assert.equal(up.counts.listed, 25);
    assert.equal(h.cluster.patches.length, 25);
    assertNoRepeatedPatch(h.cluster.patches);
    assert.deepEqual(
      h.cluster.lists.map((l) => l.continueToken),
      [undefined, 'ns-0/s-018', 'ns-1/s-013'],
      'resumed from the checkpoint',
    );
    const r = h.revision(2);
    assert.equal(r.phase, 'Completed');
    assert.equal(r.lastError, undefined, 'the cleared cause is not left behind');
  });

  it('ends Degraded, naming the offender, when the etcd scan finds an object under the old key', async () => {
    const h = rotated({ objects: 6 });
    h.cluster.get('ns-1/s-003').stuck = true;
    const o = asStep(await h.step());
    assert.equal(o.step.kind, 'degraded');
    assert.ok(o.step.kind === 'degraded');
    assert.equal(o.step.recoverable, false);
    assert.match(o.step.reason, /1 object\(s\) still under an older key_id: secrets\/ns-1\/s-003/);
    assert.equal(o.phase, 'Degraded');
    assert.equal(o.more, false);
    const r = h.revision(2);
    assert.deepEqual(r.verification?.offenders, ['secrets/ns-1/s-003']);
    assert.equal(r.verification?.clean, false);
    assert.equal(r.lastError, o.step.reason);
    assert.deepEqual(types(h), [
      'revision.created',
      'verification.completed',
      'migration.degraded',
    ]);
    assert.equal(h.events.at(-1)?.data.reason, o.step.reason);
  });

  it('completes unverified, and says so, without an etcd verifier', async () => {
    const h = rotated({ objects: 6, verifier: false });
    const o = asStep(await h.step());
    assert.deepEqual(o.step, { kind: 'complete', verified: false, note: UNVERIFIED_NOTE });
    assert.equal(o.phase, 'Completed');
    const r = h.revision(2);
    assert.equal(r.verification, undefined);
    assert.equal(r.lastError, UNVERIFIED_NOTE);
    assert.equal(h.events.at(-1)?.type, 'migration.completed');
    assert.equal(h.events.at(-1)?.data.reason, UNVERIFIED_NOTE);
  });
});

describe('reconcileStep: forced rewrite', () => {
  it('records a forced revision of a Completed key and rewrites every object for real', async () => {
    const h = harness({ objects: 12 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    assert.equal(h.revision(1).phase, 'Completed');
    const before = new Map(h.cluster.sorted().map((x) => [x.name, x.resourceVersion]));
    h.cluster.patches = [];
    h.clock.advance(60_000);

    const o = asStep(await h.step({ force: true }));

    assert.equal(o.revision, 'encryption-key-p-2');
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    const r = h.revision(2);
    assert.equal(r.forced, true);
    assert.equal(r.keyId, 'k1');
    assert.equal(r.phase, 'Completed');
    assert.equal(h.cluster.patches.length, 12);
    assert.ok(h.cluster.patches.every((p) => p.startsWith('forced:')));
    for (const x of h.cluster.sorted()) {
      assert.notEqual(x.resourceVersion, before.get(x.name), `${x.name} got a new resourceVersion`);
      assert.equal(x.annotations['rekey.dev/forced-rewrite'], 'encryption-key-p-2');
      assert.equal(x.keyId, 'k1');
    }
    assert.equal(o.counts.reencrypted, 12);

    // without force, the forced revision is simply done
    h.cluster.patches = [];
    const again = asStep(await h.step());
    assert.equal(again.revision, 'encryption-key-p-2');
    assert.equal(again.step.kind, 'nothing-to-do');
    assert.deepEqual(h.cluster.patches, []);
    assert.equal(h.store.all().length, 2);
  });

  it('continues an unfinished forced revision instead of starting another', async () => {
    const h = harness({ objects: 25 });
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    await h.step();
    h.cluster.patches = [];
    h.cluster.listCostMs = 1000;
    await h.step({ force: true, budgetMs: 1000 });
    await h.step({ force: true, budgetMs: 1000 });
    const o = asStep(await h.step({ force: true }));
    assert.equal(o.revision, 'encryption-key-p-2');
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(h.store.all().length, 2);
    assert.equal(h.cluster.patches.length, 25);
    assertNoRepeatedPatch(h.cluster.patches);
  });
});
