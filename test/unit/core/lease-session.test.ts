// LeaseSession: the provider's Lease for one step. It keeps the newest handle itself, so a release
// after renewals frees the Lease as it stands (a Lease's writes carry the version last read), and
// a lost Lease stays lost.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LeaseSession } from '../../../shared/core/lease-session.ts';
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
