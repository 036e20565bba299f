// Replay claims held in this process only (shared/ports/replay-claims.ts): for unit tests and a
// single process. A deployment with more than one replica, or that scales to zero, needs the
// cluster's claims (shared/adapters/k8s/replay-claims.ts), which every replica shares.

import type {
  ClaimAttempt,
  ClaimTimes,
  RecordedAnswer,
  ReplayClaim,
  ReplayClaims,
} from '../ports/replay-claims.ts';
import { TtlLru } from './ttl-lru.ts';

type Entry = { expiresAt: number } & (
  | { state: 'running'; token: symbol; since: number; staleAt: number }
  | { state: 'done'; answer: RecordedAnswer }
);

interface MemoryClaim extends ReplayClaim {
  readonly token: symbol;
}

/**
 * A per-process {@link ReplayClaims}: bounded (LRU, default 10,000 ids) with per-id expiry. An id
 * evicted under a flood of distinct ids runs again if replayed, as after a restart.
 */
export class MemoryReplayClaims implements ReplayClaims {
  readonly #ids: TtlLru<Entry>;
  readonly #now: () => number;
  readonly #holder: string;

  constructor({
    maxEntries = 10_000,
    now = Date.now,
    holder = 'this-process',
  }: { maxEntries?: number; now?: () => number; holder?: string } = {}) {
    this.#ids = new TtlLru<Entry>({ maxEntries, now });
    this.#now = now;
    this.#holder = holder;
  }

  async claim(id: string, { expiresAt, staleAfterMs }: ClaimTimes): Promise<ClaimAttempt> {
    const now = this.#now();
    const held = this.#ids.get(id);
    if (held?.state === 'done') return { kind: 'done', answer: held.answer };
    if (held?.state === 'running' && held.staleAt > now) {
      return { kind: 'running', holder: this.#holder, since: new Date(held.since) };
    }
    const token = Symbol(id);
    const until = expiresAt.getTime();
    this.#ids.set(
      id,
      { state: 'running', token, since: now, staleAt: now + staleAfterMs, expiresAt: until },
      until - now,
    );
    const claim: MemoryClaim = { id, token };
    return { kind: 'claimed', claim };
  }

  async complete(claim: ReplayClaim, answer: RecordedAnswer): Promise<void> {
    const held = this.#ids.get(claim.id);
    if (held?.state !== 'running' || held.token !== (claim as MemoryClaim).token) return;
    // keeps the claim's expiry: the id is remembered as long as its messages verify
    const { expiresAt } = held;
    this.#ids.set(claim.id, { state: 'done', answer, expiresAt }, expiresAt - this.#now());
  }

  async release(claim: ReplayClaim): Promise<void> {
    const held = this.#ids.get(claim.id);
    if (held?.state === 'running' && held.token === (claim as MemoryClaim).token) {
      this.#ids.set(claim.id, held, 0); // expired at once: reads as absent
    }
  }
}
