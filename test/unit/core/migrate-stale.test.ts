// Work proportional to what is stale: with etcd readable (the StoredEncryptionReader port, in
// memory here), a migration patches only the objects etcd does not already store under the new
// key and counts the others as already current; without it, or for a forced rewrite, or when etcd
// cannot be read, every listed object is patched, as before. The proof still scans everything.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MigrateSliceOptions, migrateSlice } from '../../../shared/core/migrate-slice.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { emptyCounts } from '../../../shared/domain/migration-counts.ts';
import { FakeClock, FakeCluster } from '../../support/unit/fake-cluster.ts';
import {
  A,
  asStep,
  assertNoRepeatedPatch,
  harness,
  P,
  rotated,
} from '../../support/unit/reconcile-harness.ts';

/** A rotated cluster of 25 objects in which every other one was already rewritten under k2. */
function halfStale() {
  const h = rotated();
  const keys = [...h.cluster.objects.keys()].sort();
  const current = keys.filter((_, i) => i % 2 === 0);
  for (const k of current) h.cluster.userWrite(k);
  return { h, current, stale: keys.filter((k) => !current.includes(k)) };
}

async function settle(h: ReturnType<typeof rotated>) {
  for (let i = 0; i < 10; i++) {
    const o = asStep(await h.step());
    if (!o.more) return o;
  }
  throw new Error('did not settle');
}

const patched = (patches: readonly string[]) =>
  patches.map((p) => p.slice(p.indexOf(':') + 1, p.indexOf('@'))).sort();

describe('migration with etcd readable: only stale objects are patched', () => {
  it('patches the stale half, counts the current half, and still proves everything', async () => {
    const { h, current, stale } = halfStale();
    const port = h.cluster.storedEncryption(P);
    h.deps.storedEncryption = port;

    const o = await settle(h);

    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.deepEqual(patched(h.cluster.patches), stale, 'exactly the stale objects were patched');
    assertNoRepeatedPatch(h.cluster.patches);
    assert.equal(o.counts.listed, 25);
    assert.equal(o.counts.alreadyCurrent, current.length);
    assert.equal(o.counts.reencrypted, stale.length);
    assert.equal(o.counts.unchanged, 0);
    assert.equal(port.reads.flat().length, 25, 'each listed object read from etcd once');
    assert.ok(h.verifier && h.verifier.scans >= 1, 'the final proof still scanned');
    assert.ok(h.cluster.sorted().every((x) => x.keyId === 'k2'));
    const saved = h.revision(2).progress.resources[0]?.counts;
    assert.equal(saved?.alreadyCurrent, current.length, 'the count is checkpointed');
  });

  it('patches every object without the port, as on a hosted control plane', async () => {
    const { h, current, stale } = halfStale();
    const o = await settle(h);
    assert.equal(h.cluster.patches.length, 25);
    assert.equal(o.counts.alreadyCurrent, 0);
    assert.equal(o.counts.reencrypted, stale.length);
    assert.equal(o.counts.unchanged, current.length);
  });

  it('patches every object of a page etcd could not be read for, and says so', async () => {
    const { h } = halfStale();
    const port = h.cluster.storedEncryption(P);
    port.failWith = new Error('etcd: deadline exceeded');
    h.deps.storedEncryption = port;
    const logs: string[] = [];
    h.deps.log = (message, fields) => logs.push(`${message} ${JSON.stringify(fields)}`);
    const o = await settle(h);
    assert.deepEqual(o.step, { kind: 'complete', verified: true });
    assert.equal(h.cluster.patches.length, 25, 'when in doubt, rewrite');
    assert.equal(o.counts.alreadyCurrent, 0);
    assert.ok(logs.some((l) => l.includes('etcd unreadable') && l.includes('deadline exceeded')));
  });

  it('skips nothing on a forced rewrite: the key_id does not change', async () => {
    const h = harness({ objects: 8 });
    h.deps.storedEncryption = h.cluster.storedEncryption(P);
    h.observer.report('k1', h.clock.iso());
    h.adoption.reports.set(A, 'k1');
    const first = asStep(await h.step());
    assert.equal(first.counts.alreadyCurrent, 8, 'the first revision finds everything current');
    assert.equal(h.cluster.patches.length, 0);
    h.clock.advance(60_000);
    const o = asStep(await h.step({ force: true }));
    assert.equal(h.revision(2).forced, true);
    assert.equal(h.cluster.patches.length, 8);
    assert.ok(h.cluster.patches.every((p) => p.startsWith('forced:')));
    assert.equal(o.counts.alreadyCurrent, 0);
  });
});

/** One slice over secrets, 4 a page, recording the count listed at each saved checkpoint. */
function slice(cluster: FakeCluster, clock: FakeClock, over: Partial<MigrateSliceOptions> = {}) {
  const pages: number[] = [];
  return {
    pages,
    run: () =>
      migrateSlice({
        rewriter: cluster,
        checkpoint: { resource: 'secrets', done: false, counts: emptyCounts() },
        failures: [],
        clock,
        deadline: clock.now().getTime() + 60_000,
        pageSize: 4,
        onPage: async (cp) => {
          pages.push(cp.counts.listed);
          return true;
        },
        ...over,
      }),
  };
}

describe('migrateSlice with skipCurrent', () => {
  it('names a refused stale object, judging by hash where only the hash is known', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, 'k1', 4);
    cluster.currentKeyId = 'k2';
    const keys = [...cluster.objects.keys()].sort();
    cluster.userWrite(keys[0] as string);
    cluster.refused.set(keys[1] as string, { ok: false, status: 422, reason: 'Invalid' });
    const r = await slice(cluster, clock, {
      skipCurrent: {
        reader: cluster.storedEncryption(P),
        target: { provider: P, key: { keyId: '', keyIdHash: keyIdHash('k2') } },
      },
    }).run();
    assert.equal(r.stoppedBy, 'done');
    assert.deepEqual(
      r.failures.map((f) => `${f.namespace}/${f.name}`),
      [keys[1]],
      'the failure names the refused object',
    );
    assert.equal(r.checkpoint.counts.alreadyCurrent, 1);
    assert.equal(r.checkpoint.counts.failed, 1);
    assert.equal(r.checkpoint.counts.reencrypted, 2);
    assert.deepEqual(patched(cluster.patches), keys.slice(1));
  });

  it('leaves a page unsaved when aborted while etcd was read', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, 'k1', 4);
    cluster.currentKeyId = 'k2';
    const stop = new AbortController();
    const reader = cluster.storedEncryption(P);
    const s = slice(cluster, clock, {
      signal: stop.signal,
      skipCurrent: {
        reader: {
          read: async (resource, objects) => {
            stop.abort(new Error('lease lost'));
            return reader.read(resource, objects);
          },
        },
        target: { provider: P, key: { keyId: 'k2', keyIdHash: keyIdHash('k2') } },
      },
    });
    const r = await s.run();
    assert.equal(r.stoppedBy, 'aborted');
    assert.deepEqual(s.pages, [], 'nothing saved');
    assert.equal(cluster.patches.length, 0, 'nothing patched');
  });
});

describe('migrateSlice: the next page is read while the current one is patched', () => {
  it('lists and reads from etcd the next page before the current page’s last patch', async () => {
    const clock = new FakeClock();
    const cluster = new FakeCluster(clock, 'k1', 12);
    cluster.currentKeyId = 'k2';
    const reader = cluster.storedEncryption(P);
    const patch = cluster.noOpPatch.bind(cluster);
    // what had been read when each patch went out
    const seenAtPatch: { lists: number; etcdReads: number }[] = [];
    cluster.noOpPatch = (resource, ref, options) => {
      seenAtPatch.push({ lists: cluster.lists.length, etcdReads: reader.reads.length });
      return patch(resource, ref, options);
    };
    const s = slice(cluster, clock, {
      concurrency: 2,
      skipCurrent: {
        reader,
        target: { provider: P, key: { keyId: 'k2', keyIdHash: keyIdHash('k2') } },
      },
    });
    const r = await s.run();
    const pages = s.pages;
    assert.equal(r.stoppedBy, 'done');
    assert.deepEqual(pages, [4, 8, 12], 'still counted and saved page by page, in order');
    assert.equal(seenAtPatch.length, 12);
    // page 1's last patch (the 4th) went out with page 2 already listed and read from etcd
    assert.deepEqual(seenAtPatch[3], { lists: 2, etcdReads: 2 });
    assert.deepEqual(seenAtPatch[7], { lists: 3, etcdReads: 3 });
    assert.equal(cluster.lists.length, 3, 'no page listed twice');
  });
});
