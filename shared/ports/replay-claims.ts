// Port: replay protection for signed webhooks, shared by every replica. A `webhook-id` is claimed
// before its command runs, so a captured, retried or duplicated message runs at most once across
// replicas and restarts; the answer of a finished one is kept for its replays.

/** What a finished command answered, kept for its replays: small, non-secret JSON. */
export interface RecordedAnswer {
  status: number;
  body: unknown;
}

/** A claim this replica holds; pass it back to complete or release it. */
export interface ReplayClaim {
  readonly id: string;
}

/** The answer to `claim`. */
export type ClaimAttempt =
  /** The id is this replica's to run now. */
  | { kind: 'claimed'; claim: ReplayClaim }
  /** Another holder is running it (its claim is fresh). */
  | { kind: 'running'; holder: string; since: Date }
  /** It ran to completion: what it answered. */
  | { kind: 'done'; answer: RecordedAnswer };

/** When a claim lapses. */
export interface ClaimTimes {
  /** After this time the id is forgotten (the signature check refuses its messages by then). */
  expiresAt: Date;
  /**
   * A running claim not renewed for this long belongs to a holder that died: another replica may
   * take it over. The holder renews it (every third of this) while its command runs.
   */
  staleAfterMs: number;
}

/**
 * Claims of webhook ids. Guarantees: of concurrent `claim`s of one id, across every replica, at
 * most one answers `claimed` (a compare-and-swap in the store); a claim stays `running` while its
 * holder lives and `done` with its answer once completed, until `expiresAt`; `release` forgets
 * the id at once, so the sender's retry runs; a running claim whose holder stopped renewing it
 * for `staleAfterMs` may be taken over, and an expired one is replaced. Failures of the store
 * reject (retryable ones declare it, shared/ports/retryable.ts): nothing runs without a claim.
 */
export interface ReplayClaims {
  claim(id: string, times: ClaimTimes): Promise<ClaimAttempt>;
  /** Records the answer; replays get it until the claim expires. */
  complete(claim: ReplayClaim, answer: RecordedAnswer): Promise<void>;
  /** Forgets the id (its command failed), so a retry with the same id runs. */
  release(claim: ReplayClaim): Promise<void>;
}
