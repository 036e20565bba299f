// How the CLI prints: JSON for machines, short aligned text for people; exit codes in one place.

/**
 * The exit codes every command uses (README, "Exit codes"), so a pipeline can act on them:
 * 0 done and verified, safe to act on; 1 degraded, or something still needs the old key;
 * 2 usage or configuration error; 3 not finished within --timeout; 4 finished but not verifiable.
 */
export const EXIT = { ok: 0, notOk: 1, usage: 2, timeout: 3, unverifiable: 4 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const MEANING: Record<ExitCode, string> = {
  0: 'done and verified: safe to act on',
  1: 'degraded, or something still needs the old key',
  2: 'usage or configuration error',
  3: 'not finished within --timeout',
  4: 'finished but not verifiable (no etcd access)',
};

/** The verdict `--output json` carries: the exit code and what it means. */
export function verdict(code: ExitCode): { exitCode: ExitCode; meaning: string } {
  return { exitCode: code, meaning: MEANING[code] };
}

export type Format = 'text' | 'json';

export function parseFormat(v: unknown): Format {
  if (v === 'json' || v === 'text') return v;
  throw new UsageError(`--output must be text or json, not ${String(v)}`);
}

export class UsageError extends Error {
  override name = 'UsageError';
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function printTable(rows: readonly (readonly string[])[]): void {
  const widths: number[] = [];
  for (const r of rows) {
    r.forEach((c, i) => {
      widths[i] = Math.max(widths[i] ?? 0, c.length);
    });
  }
  for (const r of rows)
    process.stdout.write(
      `${r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd()}\n`,
    );
}
