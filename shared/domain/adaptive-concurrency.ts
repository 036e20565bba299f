// How many no-op patches to keep in flight, decided from what rekey itself sees of the apiserver:
// the time its own patches take and the apiserver's pushback (429 from API Priority and Fairness,
// 5xx, no answer). Pure: the caller measures, this decides.
//
// The rule, per round (as many answered patches as the limit, and at least `MIN_ROUND`):
// - pushback: halve the limit at once, as TCP does on loss, and again after every `limit`
//   answers while it lasts (pushback is a clear signal: it needs no longer rounds);
// - the round's median latency above `BACK_OFF_ABOVE` x the best recent round, two rounds in a
//   row: shrink by a fifth (the apiserver is queueing rekey's own requests, so other clients wait
//   too); one such round alone is a spike and changes nothing;
// - otherwise grow by a quarter, as long as growing pays: by Little's law a round moves
//   limit / median patches per ms, and a growth that did not raise that by `MIN_SHARE` of what it
//   added (half: 20% more slots must bring at least 10% more) means the apiserver is saturated, so
//   the limit steps back to where it was and holds `HOLD_ROUNDS` rounds before it probes again.
// "Best recent" is the lowest median of the last `BASELINE_ROUNDS` rounds, so a slower phase
// (bigger objects, a busy etcd) becomes the new normal instead of pinning rekey at the floor.

export interface ConcurrencyBounds {
  min: number;
  max: number;
  /** The limit a new controller starts at. */
  start: number;
}

export interface AdaptiveConcurrency {
  limit: number;
  bounds: ConcurrencyBounds;
  /** Medians of the last rounds, ms, newest last. */
  recent: number[];
  /** Latencies of the current round's answered patches, ms. */
  round: number[];
  /** Pushbacks in the current round: they count toward its end as answers do. */
  pushbacks: number;
  /** Whether the current round already halved the limit. */
  cutThisRound: boolean;
  /** The round before the last growth: its limit and its rate (patches per ms). */
  beforeGrowth?: { limit: number; rate: number };
  /** Rounds to hold before probing higher again. */
  hold: number;
  /** Rounds in a row whose median was over `BACK_OFF_ABOVE` x the best: one alone is a spike. */
  slowRounds: number;
}

/** What one answered patch says: `pushback` for 429, 5xx and no answer; `refused` for other 4xx. */
export interface ConcurrencySample {
  latencyMs: number;
  answer: 'ok' | 'pushback' | 'refused';
}

export const DEFAULT_BOUNDS: ConcurrencyBounds = { min: 1, max: 32, start: 8 };
const BACK_OFF_ABOVE = 2;
const MIN_SHARE = 0.5;
const HOLD_ROUNDS = 10;
const BASELINE_ROUNDS = 30;
/**
 * A round is at least this many answers, however low the limit: the median of one or two
 * latencies is noise, and a baseline taken as the least of such medians is far below the usual,
 * which shrank the limit round after round down to 1 on a busy 2-core sandbox (the bench).
 */
const MIN_ROUND = 32;
/** Slow rounds in a row before the limit backs off: a single slow round is a spike (a GC pause, a
 * list page read from etcd beside the patches), not the apiserver queueing rekey's work. */
const SLOW_ROUNDS_TO_BACK_OFF = 2;

/** How many answers make the current round. */
export function roundSize(state: Pick<AdaptiveConcurrency, 'limit'>): number {
  return Math.max(state.limit, MIN_ROUND);
}

function clamp(n: number, { min, max }: ConcurrencyBounds): number {
  return Math.max(min, Math.min(max, Math.round(n)));
}

export function startConcurrency(bounds: ConcurrencyBounds = DEFAULT_BOUNDS): AdaptiveConcurrency {
  if (!(bounds.min >= 1 && bounds.min <= bounds.start && bounds.start <= bounds.max)) {
    throw new RangeError(
      `concurrency bounds must satisfy 1 <= min <= start <= max (got ${JSON.stringify(bounds)})`,
    );
  }
  return {
    limit: bounds.start,
    bounds,
    recent: [],
    round: [],
    pushbacks: 0,
    cutThisRound: false,
    hold: 0,
    slowRounds: 0,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** The controller after one answered patch. */
export function observeConcurrency(
  state: AdaptiveConcurrency,
  sample: ConcurrencySample,
): AdaptiveConcurrency {
  // a refusal (admission, validation) says nothing about load
  if (sample.answer === 'refused') return state;
  if (sample.answer === 'pushback') {
    const { beforeGrowth: _, ...rest } = state;
    if (!state.cutThisRound) {
      const limit = clamp(state.limit / 2, state.bounds);
      return { ...rest, limit, round: [], pushbacks: 0, cutThisRound: true, slowRounds: 0 };
    }
    // a burst of pushbacks is one signal per round; a round that ends in pushback may cut again.
    // Pushback needs no smoothing: under sustained 429s it may cut again after `limit` answers.
    const pushbacks = state.pushbacks + 1;
    if (state.round.length + pushbacks < state.limit) return { ...rest, pushbacks };
    return { ...rest, round: [], pushbacks: 0, cutThisRound: false };
  }
  const round = [...state.round, sample.latencyMs];
  if (round.length + state.pushbacks < roundSize(state)) return { ...state, round };
  // a round with pushback in it ends without growing
  if (state.pushbacks > 0) return { ...state, round: [], pushbacks: 0, cutThisRound: false };
  return decide({ ...state, round });
}

/** The end of a round: shrink, step back, hold or grow. */
function decide(state: AdaptiveConcurrency): AdaptiveConcurrency {
  const m = Math.max(median(state.round), 1e-3);
  const recent = [...state.recent, m].slice(-BASELINE_ROUNDS);
  const best = Math.min(...recent);
  const rate = state.limit / m;
  const next = { ...state, recent, round: [], pushbacks: 0, cutThisRound: false };
  const { beforeGrowth: _, ...settled } = next;
  if (m > best * BACK_OFF_ABOVE) {
    if (state.slowRounds + 1 < SLOW_ROUNDS_TO_BACK_OFF) {
      // a spike, or the growth just made saturating: the growth is judged by the next round
      return { ...next, slowRounds: state.slowRounds + 1 };
    }
    return {
      ...settled,
      limit: clamp(Math.min(state.limit - 1, state.limit * 0.8), state.bounds),
      slowRounds: 0,
    };
  }
  settled.slowRounds = 0;
  const before = state.beforeGrowth;
  if (before && rate < before.rate * (1 + (state.limit / before.limit - 1) * MIN_SHARE)) {
    // the last growth bought nothing: saturated, go back and stay a while
    return { ...settled, limit: before.limit, hold: HOLD_ROUNDS };
  }
  if (state.hold > 0) return { ...settled, hold: state.hold - 1 };
  const grown = clamp(Math.max(state.limit + 1, state.limit * 1.25), state.bounds);
  if (grown === state.limit) return settled;
  return { ...settled, limit: grown, beforeGrowth: { limit: state.limit, rate } };
}

/** How a patch's answer counts: 429, 5xx and no answer (status 0) are the apiserver pushing back. */
export function sampleAnswer(status: number | 'ok'): ConcurrencySample['answer'] {
  if (status === 'ok') return 'ok';
  if (status === 429 || status === 0 || status >= 500) return 'pushback';
  return 'refused';
}
