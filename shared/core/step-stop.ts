// When a step must end at once, not at its next page boundary: its Lease is lost (another runner
// may work the provider now) or its hard deadline passed (the caller's request is about to be cut
// off: Knative's timeoutSeconds, the Trigger's delivery timeout). One signal carries both to every
// call the step makes, so requests in flight are cancelled and no new patch starts; the budget
// (a soft stop between pages) stays the step's own business.
import type { Clock } from '../ports/clock.ts';

export type StopReason = 'lease-lost' | 'deadline';

/** The reason a stopped step's signal carries; `cause` says more (a LeaseLostError, say). */
export class StepStoppedError extends Error {
  override name = 'StepStoppedError';
  readonly reason: StopReason;
  constructor(reason: StopReason, options?: { cause?: unknown }) {
    super(
      reason === 'deadline'
        ? 'the step passed its deadline'
        : 'the step lost its Lease: another runner may work the provider now',
      options,
    );
    this.reason = reason;
  }
}

/**
 * How much longer than its budget a step may run before it is stopped where it stands: the budget
 * is checked between pages only, so a page under way (or the verification) may run past it. The
 * request timeouts in infra/ (the Trigger's delivery timeout, Knative's timeoutSeconds) are above
 * budget + margin, with room for the answer; test/integration/infra-services.test.ts checks it.
 */
export const STEP_DEADLINE_MARGIN_MS = 30_000;

/** The hard deadline of a step with this budget, in ms from its start. */
export function stepDeadlineMs(budgetMs: number): number {
  return budgetMs + STEP_DEADLINE_MARGIN_MS;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class StepStop {
  readonly #controller = new AbortController();
  readonly #clock: Clock;
  readonly #lease: AbortSignal;
  readonly #onLeaseLost: () => void;
  readonly #timer: NodeJS.Timeout | undefined;
  /** Epoch ms, on the step's clock, past which the step stops. */
  readonly abortAt: number;

  constructor({ clock, abortAt, lease }: { clock: Clock; abortAt: number; lease: AbortSignal }) {
    this.#clock = clock;
    this.abortAt = abortAt;
    this.#lease = lease;
    this.#onLeaseLost = () => this.#stop('lease-lost', lease.reason);
    if (lease.aborted) this.#onLeaseLost();
    else lease.addEventListener('abort', this.#onLeaseLost, { once: true });
    const inMs = Math.max(0, abortAt - clock.now().getTime());
    // past setTimeout's range (about 24 days) no step is still running: no timer then
    if (inMs <= MAX_TIMER_MS) {
      this.#timer = setTimeout(() => this.#stop('deadline'), inMs);
      this.#timer.unref();
    }
  }

  /** Aborts, with a StepStoppedError, when the step must stop. */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /**
   * Why the step must stop now, or undefined. Reads the clock as well as the signal, so a deadline
   * passed is seen at once, even before the timer fires (or on a clock the timer does not follow).
   */
  check(): StopReason | undefined {
    if (!this.signal.aborted && this.#clock.now().getTime() >= this.abortAt) this.#stop('deadline');
    return this.reason;
  }

  /** Why the step was stopped, once it was. */
  get reason(): StopReason | undefined {
    const r: unknown = this.signal.reason;
    return r instanceof StepStoppedError ? r.reason : undefined;
  }

  /** Stops the timer and stops listening to the Lease: the step is over. */
  dispose(): void {
    clearTimeout(this.#timer);
    this.#lease.removeEventListener('abort', this.#onLeaseLost);
  }

  #stop(reason: StopReason, cause?: unknown): void {
    if (this.signal.aborted) return;
    this.#controller.abort(
      new StepStoppedError(reason, cause === undefined ? undefined : { cause }),
    );
  }
}
