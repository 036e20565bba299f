// Watches the migration's revision from outside rekey (polling its Secret), so a fault test can
// tell when the migration is mid-way and when it made progress again after a fault.
import { summariseProgress } from '../../shared/domain/migration-progress.ts';
import type { Revision } from '../../shared/domain/revision.ts';
import type { RekeyUnderTest } from '../support/rekey-fixture.ts';

export interface Sample {
  /** When rekey saved this state (its own clock: the revision's updated-at). */
  savedAt: number;
  listed: number;
  phase: Revision['phase'];
}

export interface ProgressLog {
  samples: Sample[];
  /** Reads that failed (the apiserver or etcd being down, say). */
  readErrors: number;
  /**
   * When the latest failed read was sent (epoch ms; undefined if none failed). What rekey saves
   * after it, it saved once the apiserver answered again.
   */
  lastReadErrorAt: number | undefined;
  newest(): Promise<Revision | undefined>;
  /** Resolves with the newest revision once `pred` holds for it. */
  waitFor(what: string, pred: (r: Revision) => boolean, limitMs: number): Promise<Revision>;
  /**
   * Seconds from `t0` (epoch ms) to the first checkpoint rekey saved after it that listed more
   * than any state saved before it (or completed); undefined if none was seen.
   */
  recoveredAfter(t0: number): number | undefined;
  /** True when the listed count never went down across all saved states (no restart from zero). */
  monotonic(): boolean;
  stop(): Promise<void>;
}

export function watchProgress(
  rekey: Pick<RekeyUnderTest, 'deps' | 'config'>,
  keyIdHash: string,
  { pollMs = 200 } = {},
): ProgressLog {
  const samples: Sample[] = [];
  let readErrors = 0;
  let lastReadErrorAt: number | undefined;
  let running = true;
  const newest = async () => {
    const all = await rekey.deps.store.list(rekey.config.provider);
    return all.map((s) => s.revision).sort((a, b) => b.number - a.number)[0];
  };
  const poller = (async () => {
    while (running) {
      const sent = Date.now();
      try {
        const r = await newest();
        if (r?.keyIdHash === keyIdHash && r.updatedAt) {
          const s: Sample = {
            savedAt: Date.parse(r.updatedAt),
            listed: summariseProgress(r.progress).counts.listed,
            phase: r.phase,
          };
          if (samples.at(-1)?.savedAt !== s.savedAt) samples.push(s);
        }
      } catch {
        readErrors++;
        lastReadErrorAt = sent;
      }
      await new Promise((res) => setTimeout(res, pollMs));
    }
  })();
  const log: ProgressLog = {
    samples,
    get readErrors() {
      return readErrors;
    },
    get lastReadErrorAt() {
      return lastReadErrorAt;
    },
    newest,
    async waitFor(what, pred, limitMs) {
      const deadline = Date.now() + limitMs;
      for (;;) {
        const r = await newest().catch(() => undefined);
        if (r?.keyIdHash === keyIdHash && pred(r)) return r;
        if (Date.now() > deadline)
          throw new Error(`${what}: not within ${limitMs / 1000} s (phase ${r?.phase})`);
        await new Promise((res) => setTimeout(res, pollMs));
      }
    },
    recoveredAfter(t0) {
      const before = samples.filter((s) => s.savedAt <= t0);
      const base = Math.max(0, ...before.map((s) => s.listed));
      const next = samples.find(
        (s) => s.savedAt > t0 && (s.listed > base || s.phase === 'Completed'),
      );
      return next ? (next.savedAt - t0) / 1000 : undefined;
    },
    monotonic() {
      return samples.every((s, i) => i === 0 || s.listed >= (samples[i - 1] as Sample).listed);
    },
    async stop() {
      running = false;
      await poller;
    },
  };
  return log;
}
