// How the CLI prints: JSON for machines, short aligned text for people; exit codes in one place.
export const EXIT = { ok: 0, notOk: 1, usage: 2 } as const;

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
