// Port: the time, injected so that every decision that depends on it is testable.

/** Tells the time. Guarantees: `now()` returns a fresh Date the caller may keep. */
export interface Clock {
  now(): Date;
}

/** The wall clock. */
export const systemClock: Clock = { now: () => new Date() };
