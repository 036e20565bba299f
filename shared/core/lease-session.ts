// The provider's Lease, held for the length of one step. A renewal returns a new handle (a new
// expiry, and for a Kubernetes Lease a new resourceVersion); the session keeps the newest itself,
// so neither the step nor the callbacks it hands out juggle handles, and release frees the Lease
// as it stands now.
//
// A step renews on a timer (every third of the TTL) for as long as it holds the Lease, not only
// between pages: verification and a slow page can outlast a TTL. And the session judges its own
// Lease lost, aborting its signal, the moment another runner could take it over: when a renewal is
// refused, or when no renewal succeeded for the TTL less a margin since it was sent. That is a
// local duration on timers, never a time compared with another machine's clock; others judge the
// Lease's expiry in the apiserver's time (shared/adapters/k8s/lease-lock.ts), and the margin covers
// the Date header's whole seconds that time is read in.
import type { Lock, LockHandle } from '../ports/lock.ts';

export type LeaseAcquisition =
  | { acquired: true; lease: LeaseSession }
  | { acquired: false; heldBy: string };

/** Why a session's signal aborted: the Lease is, or may be by now, another runner's. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

/** How long before the TTL runs out, counted from a renewal's start, the session gives up. */
export const LEASE_LAPSE_MARGIN_MS = 2_000;

export interface LeaseOptions {
  name: string;
  holder: string;
  ttlMs: number;
  /** Default a third of the TTL: two renewals may fail before the Lease lapses. */
  renewEveryMs?: number;
}

export class LeaseSession {
  readonly #lock: Lock;
  readonly #ttlMs: number;
  readonly #controller = new AbortController();
  #handle: LockHandle;
  #renewing: Promise<boolean> | undefined;
  /** Fires when the last successful renewal (or the acquisition) lapses. */
  #lapse: NodeJS.Timeout;
  #ticker: NodeJS.Timeout | undefined;
  #lastFailure: unknown;

  private constructor(lock: Lock, handle: LockHandle, ttlMs: number, lapse: NodeJS.Timeout) {
    this.#lock = lock;
    this.#handle = handle;
    this.#ttlMs = ttlMs;
    this.#lapse = lapse;
  }

  /** Takes the Lease `name` for `holder`, or says who holds it; renews it on a timer once taken. */
  static async acquire(lock: Lock, options: LeaseOptions): Promise<LeaseAcquisition> {
    const { name, holder, ttlMs } = options;
    // the lapse is counted from before the request: the Lease may be written the moment it arrives
    let session: LeaseSession | undefined;
    let lapsedEarly = false;
    const lapse = lapseTimer(ttlMs, () => {
      if (session) session.#lapsed();
      else lapsedEarly = true;
    });
    let r: Awaited<ReturnType<Lock['tryAcquire']>>;
    try {
      r = await lock.tryAcquire(name, holder, ttlMs);
    } catch (err) {
      clearTimeout(lapse);
      throw err;
    }
    if (!r.acquired) {
      clearTimeout(lapse);
      return { acquired: false, heldBy: r.heldBy };
    }
    session = new LeaseSession(lock, r.handle, ttlMs, lapse);
    // an acquisition slower than the TTL may have been taken over already: lost from the start
    if (lapsedEarly) session.#lapsed();
    else session.#startTicking(options.renewEveryMs ?? Math.max(1, Math.floor(ttlMs / 3)));
    return { acquired: true, lease: session };
  }

  /** The handle as last acquired or renewed. */
  get handle(): LockHandle {
    return this.#handle;
  }

  /** Aborts, with a LeaseLostError, once the Lease is lost or may have lapsed. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Extends the Lease by its TTL; false once it was lost (another holder took it after it lapsed,
   * or it may have lapsed while no renewal got through). Lost stays lost: a later renewal would
   * only race the new holder. A renewal already under way is joined, not doubled.
   */
  renew(): Promise<boolean> {
    if (this.#controller.signal.aborted) return Promise.resolve(false);
    this.#renewing ??= this.#renewOnce().finally(() => {
      this.#renewing = undefined;
    });
    return this.#renewing;
  }

  /**
   * Stops renewing and frees the Lease if still ours. Never throws: it runs when a step ends,
   * perhaps on an error that matters more, and a Lease left behind lapses at its TTL anyway.
   */
  async release(): Promise<void> {
    this.#stopTimers();
    await this.#renewing?.catch(() => {});
    await this.#lock.release(this.#handle).catch(() => {});
  }

  async #renewOnce(): Promise<boolean> {
    const lapse = lapseTimer(this.#ttlMs, () => this.#lapsed());
    let renewed: LockHandle | undefined;
    try {
      renewed = await this.#lock.renew(this.#handle, this.#ttlMs);
    } catch (err) {
      clearTimeout(lapse);
      this.#lastFailure = err;
      throw err;
    }
    if (!renewed || this.#controller.signal.aborted) {
      clearTimeout(lapse);
      this.#lose(new LeaseLostError(`Lease ${this.#handle.name} was taken by another holder`));
      return false;
    }
    this.#handle = renewed;
    this.#lastFailure = undefined;
    clearTimeout(this.#lapse);
    this.#lapse = lapse;
    return true;
  }

  #startTicking(everyMs: number): void {
    // a failed renewal is left to the next tick and to the lapse timer, which tells the step
    this.#ticker = setInterval(() => void this.renew().catch(() => {}), everyMs);
    this.#ticker.unref();
  }

  #lapsed(): void {
    this.#lose(
      new LeaseLostError(
        `Lease ${this.#handle.name}: no renewal got through within its TTL (${this.#ttlMs} ms) less ${LEASE_LAPSE_MARGIN_MS} ms`,
        ...(this.#lastFailure === undefined ? [] : [{ cause: this.#lastFailure }]),
      ),
    );
  }

  #lose(reason: LeaseLostError): void {
    this.#stopTimers();
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  #stopTimers(): void {
    clearInterval(this.#ticker);
    clearTimeout(this.#lapse);
  }
}

/** A timer for the TTL less the margin; it keeps no process alive on its own. */
function lapseTimer(ttlMs: number, fire: () => void): NodeJS.Timeout {
  const t = setTimeout(fire, Math.max(0, ttlMs - LEASE_LAPSE_MARGIN_MS));
  t.unref();
  return t;
}
