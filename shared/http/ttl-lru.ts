// A bounded map whose entries expire: the least recently used entry goes first when full, and an
// expired entry reads as absent. Backs the replay cache and the sender-auth cache, so neither can
// grow without bound under a flood of distinct ids or tokens.

/** Options of {@link TtlLru}. */
export interface TtlLruOptions {
  /** Most entries kept (default 10,000). */
  maxEntries?: number;
  /** Milliseconds since the epoch (default `Date.now`); tests pass a fake clock. */
  now?: () => number;
}

export class TtlLru<V> {
  readonly #entries = new Map<string, { value: V; expiresAt: number }>();
  readonly #maxEntries: number;
  readonly #now: () => number;

  constructor({ maxEntries = 10_000, now = Date.now }: TtlLruOptions = {}) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) {
      throw new RangeError(`maxEntries must be a positive integer, got ${maxEntries}`);
    }
    this.#maxEntries = maxEntries;
    this.#now = now;
  }

  /** The live value under `key`, refreshed as most recently used; undefined when absent or expired. */
  get(key: string): V | undefined {
    const e = this.#entries.get(key);
    if (e === undefined) return undefined;
    this.#entries.delete(key);
    if (e.expiresAt <= this.#now()) return undefined;
    this.#entries.set(key, e);
    return e.value;
  }

  /** Stores `value` under `key` for `ttlMs`, evicting the least recently used entry when full. */
  set(key: string, value: V, ttlMs: number): void {
    this.#entries.delete(key);
    this.#entries.set(key, { value, expiresAt: this.#now() + ttlMs });
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  /** Entries held, expired ones included until they are read or evicted. */
  get size(): number {
    return this.#entries.size;
  }
}
