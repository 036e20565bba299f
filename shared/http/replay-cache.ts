// Remembers which Standard Webhooks `webhook-id`s were already processed, so a replayed or
// redelivered message is answered without running it twice. An id needs remembering only while
// its timestamp is inside the verification tolerance: after that the signature check refuses it.

import { TtlLru } from './ttl-lru.ts';

/**
 * The minimum a replay store must do. Guarantees: `seen` is true for an id `remember`ed less than
 * its ttl ago (an implementation may forget earlier under memory pressure: a forgotten id is then
 * processed again, which rekey's idempotent handlers tolerate).
 */
export interface ReplayCache {
  /** Whether `id` was recorded as processed and has not expired. */
  seen(id: string): Promise<boolean>;
  /** Records `id` as processed for `ttlMs`. */
  remember(id: string, ttlMs: number): Promise<void>;
}

/** A per-process {@link ReplayCache}: bounded (LRU, default 10,000 ids) with per-id expiry. */
export class MemoryReplayCache implements ReplayCache {
  readonly #ids: TtlLru<true>;

  constructor({
    maxEntries = 10_000,
    now = Date.now,
  }: { maxEntries?: number; now?: () => number } = {}) {
    this.#ids = new TtlLru<true>({ maxEntries, now });
  }

  async seen(id: string): Promise<boolean> {
    return this.#ids.get(id) === true;
  }

  async remember(id: string, ttlMs: number): Promise<void> {
    this.#ids.set(id, true, ttlMs);
  }
}
