// The provider's Lease, held for the length of one step. A renewal returns a new handle (a new
// expiry, and for a Kubernetes Lease a new resourceVersion); the session keeps the newest itself,
// so neither the step nor the callbacks it hands out juggle handles, and release frees the Lease
// as it stands now.
import type { Lock, LockHandle } from '../ports/lock.ts';

export type LeaseAcquisition =
  | { acquired: true; lease: LeaseSession }
  | { acquired: false; heldBy: string };

export class LeaseSession {
  readonly #lock: Lock;
  readonly #ttlMs: number;
  #handle: LockHandle;
  #lost = false;

  private constructor(lock: Lock, handle: LockHandle, ttlMs: number) {
    this.#lock = lock;
    this.#handle = handle;
    this.#ttlMs = ttlMs;
  }

  /** Takes the Lease `name` for `holder`, or says who holds it. */
  static async acquire(
    lock: Lock,
    { name, holder, ttlMs }: { name: string; holder: string; ttlMs: number },
  ): Promise<LeaseAcquisition> {
    const r = await lock.tryAcquire(name, holder, ttlMs);
    if (!r.acquired) return { acquired: false, heldBy: r.heldBy };
    return { acquired: true, lease: new LeaseSession(lock, r.handle, ttlMs) };
  }

  /** The handle as last acquired or renewed. */
  get handle(): LockHandle {
    return this.#handle;
  }

  /**
   * Extends the Lease by its TTL; false once it was lost (another holder took it after it lapsed).
   * Lost stays lost: a later renewal would only race the new holder.
   */
  async renew(): Promise<boolean> {
    if (this.#lost) return false;
    const renewed = await this.#lock.renew(this.#handle, this.#ttlMs);
    if (!renewed) {
      this.#lost = true;
      return false;
    }
    this.#handle = renewed;
    return true;
  }

  /**
   * Frees the Lease if still ours. Never throws: it runs when a step ends, perhaps on an error that
   * matters more, and a Lease left behind lapses at its TTL anyway.
   */
  async release(): Promise<void> {
    await this.#lock.release(this.#handle).catch(() => {});
  }
}
