// Port: a lease that keeps two runners off the same provider (a coordination.k8s.io Lease).

/** A held lock, as `tryAcquire` returned it; pass it back to renew or release. */
export interface LockHandle {
  name: string;
  holder: string;
  /** ISO 8601 time the lock lapses unless renewed. */
  expiresAt: string;
}

/** The answer to `tryAcquire`. */
export type AcquireResult =
  | { acquired: true; handle: LockHandle }
  | { acquired: false; heldBy: string; expiresAt?: string };

/**
 * A named, expiring lock. Guarantees: at most one holder at a time; an expired lock can be taken
 * over; `renew` fails (false) once another holder took it; `release` never frees another's lock.
 */
export interface Lock {
  tryAcquire(name: string, holder: string, ttlMs: number): Promise<AcquireResult>;
  renew(handle: LockHandle, ttlMs: number): Promise<LockHandle | undefined>;
  release(handle: LockHandle): Promise<void>;
}
