// `--timeout`: how long a command that waits may wait, as `90s`, `20m`, `1h` or plain seconds.
import { UsageError } from './output.ts';

const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000 } as const;

/** Milliseconds for a `--timeout` value; a UsageError (exit 2) for anything else. */
export function parseTimeout(value: unknown): number {
  const text = String(value).trim();
  const m = /^(\d+(?:\.\d+)?)\s*([smh]?)$/.exec(text);
  const amount = m ? Number(m[1]) : Number.NaN;
  if (!m || !(amount > 0)) {
    throw new UsageError(
      `--timeout must be a positive duration such as 90s, 20m, 1h or plain seconds, not ${JSON.stringify(text)}`,
    );
  }
  return Math.round(amount * UNIT_MS[(m[2] || 's') as keyof typeof UNIT_MS]);
}
