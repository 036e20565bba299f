// LeaseSession: the provider's Lease for one step. It keeps the newest handle itself, so a release
// after renewals frees the Lease as it stands (a Lease's writes carry the version last read), and
// a lost Lease stays lost. It renews on a timer for as long as it is held, and aborts its signal
// when a renewal is refused or none got through before the TTL (less a margin) ran out. Timers
// are node:test's mock timers: the tests move time themselves and wait on no real time.

import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import {
  LEASE_LAPSE_MARGIN_MS,
  LeaseLostError,
  LeaseSession,
} from '../../../shared/core/lease-session.ts';
import type { Lock, LockHandle } from '../../../shared/ports/lock.ts';

/** A Lock whose handles carry a version (as expiresAt); renew and release need the current one. */
class VersionedLock implements Lock {
  held: { holder: string; version: number } | undefined;
  calls: string[] = [];
  failRelease = false;
  async tryAcquire(name: string, holder: string) {
    this.calls.push(`acquire:${holder}`);
    if (this.held && this.held.holder !== holder) {
      return { acquired: false as const, heldBy: this.held.holder };
    }
    this.held = { holder, version: 1 };
    return { acquired: true as const, handle: this.handle(name, holder) };
  }
  async renew(h: LockHandle) {
    this.calls.push(`renew:${h.expiresAt}`);
    if (!this.current(h) || !this.held) return undefined;
    this.held.version++;
    return this.handle(h.name, h.holder);
  }
  async release(h: LockHandle) {
    this.calls.push(`release:${h.expiresAt}`);
    if (this.failRelease) throw new Error('apiserver unreachable');
    if (this.current(h)) this.held = undefined;
  }
  /** Another runner takes the Lease over (after it lapsed). */
  takeOver(holder: string) {
    this.held = { holder, version: 100 };
  }
  private current(h: LockHandle) {
    return this.held?.holder === h.holder && h.expiresAt === `v${this.held.version}`;
  }
  private handle(name: string, holder: string): LockHandle {
    return { name, holder, expiresAt: `v${this.held?.version}` };
  }
}

const lease = { name: 'rekey-p', holder: 'me/1', ttlMs: 30_000 };

async function acquired(lock: Lock): Promise<LeaseSession> {
  const r = await LeaseSession.acquire(lock, lease);
  assert.ok(r.acquired);
  return r.lease;
}

describe('LeaseSession', () => {
  it('says who holds the Lease when it is taken', async () => {
    const lock = new VersionedLock();
    lock.takeOver('other-pod');
    assert.deepEqual(await LeaseSession.acquire(lock, lease), {
      acquired: false,
      heldBy: 'other-pod',
    });
  });

  it('renews with the newest handle and releases the Lease as it stands after renewals', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    assert.equal(await session.renew(), true);
    assert.equal(await session.renew(), true);
    assert.equal(session.handle.expiresAt, 'v3');
    await session.release();
    assert.deepEqual(lock.calls, ['acquire:me/1', 'renew:v1', 'renew:v2', 'release:v3']);
    assert.equal(lock.held, undefined, 'the Lease is free');
  });

  it('a lost Lease stays lost: no renewal races the new holder, release leaves it alone', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    lock.takeOver('other-pod');
    assert.equal(await session.renew(), false);
    assert.equal(await session.renew(), false);
    assert.equal(lock.calls.filter((c) => c.startsWith('renew:')).length, 1);
    await session.release();
    assert.equal(lock.held?.holder, 'other-pod');
  });

  it('release never throws: the Lease lapses at its TTL anyway', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    lock.failRelease = true;
    await session.release();
    assert.deepEqual(lock.calls.at(-1), 'release:v1');
  });
});

/** Lets every promise callback queued so far run (mock timers leave setImmediate real). */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('LeaseSession: renewed on a timer, lost when it may have lapsed', () => {
  beforeEach(() => mock.timers.enable({ apis: ['setInterval', 'setTimeout'] }));
  afterEach(() => mock.timers.reset());

  it('renews every third of the TTL for as long as it is held, and not after release', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    mock.timers.tick(9_999);
    await settle();
    assert.deepEqual(lock.calls, ['acquire:me/1'], 'not before a third of the TTL');
    for (let i = 0; i < 4; i++) {
      mock.timers.tick(10_000);
      await settle();
    }
    assert.deepEqual(lock.calls.slice(1), ['renew:v1', 'renew:v2', 'renew:v3', 'renew:v4']);
    assert.equal(session.signal.aborted, false, 'renewed in time: never lost');
    await session.release();
    mock.timers.tick(60_000);
    await settle();
    assert.deepEqual(lock.calls.slice(5), ['release:v5'], 'no renewal after release');
  });

  it('a renewal refused by the timer aborts the signal with a LeaseLostError', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    lock.takeOver('other-pod');
    mock.timers.tick(10_000);
    await settle();
    assert.equal(session.signal.aborted, true);
    assert.ok(session.signal.reason instanceof LeaseLostError);
    assert.match(session.signal.reason.message, /taken by another holder/);
  });

  it('aborts when no renewal got through before the TTL less the margin', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    const unreachable = new Error('connect ECONNREFUSED');
    lock.renew = async (h: LockHandle) => {
      lock.calls.push(`renew:${h.expiresAt}`);
      throw unreachable;
    };
    mock.timers.tick(30_000 - LEASE_LAPSE_MARGIN_MS - 1);
    await settle();
    assert.equal(session.signal.aborted, false, 'two renewals failed, the Lease still holds');
    mock.timers.tick(1);
    await settle();
    assert.equal(session.signal.aborted, true, 'another runner could take it over any moment now');
    assert.ok(session.signal.reason instanceof LeaseLostError);
    assert.equal(session.signal.reason.cause, unreachable);
    assert.equal(await session.renew(), false, 'lost stays lost');
  });

  it('a renewal that never answers does not keep the Lease: its lapse counts from the last success', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    mock.timers.tick(10_000);
    await settle();
    assert.equal(session.handle.expiresAt, 'v2', 'renewed once');
    lock.renew = () => new Promise<undefined>(() => {});
    mock.timers.tick(30_000 - LEASE_LAPSE_MARGIN_MS - 1);
    await settle();
    assert.equal(session.signal.aborted, false);
    mock.timers.tick(1);
    await settle();
    assert.equal(session.signal.aborted, true);
  });

  it('joins a renewal under way instead of sending another', async () => {
    const lock = new VersionedLock();
    const session = await acquired(lock);
    const [a, b] = await Promise.all([session.renew(), session.renew()]);
    assert.deepEqual([a, b], [true, true]);
    assert.deepEqual(lock.calls, ['acquire:me/1', 'renew:v1']);
  });
});
