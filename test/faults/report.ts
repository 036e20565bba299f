// The fault table's rows: each fault test appends what it measured as one JSON line, and
// table.ts prints them. Rows come only from runs, never from this file.
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

export interface FaultRow {
  fault: string;
  /** What was done to the system and when (at how much of the migration). */
  injected: string;
  /** Completed, verified from etcd, every secret under the new key, nothing lost. */
  survived: boolean;
  /** Secrets missing or not holding their last written data. */
  lost: number;
  /** From the fault cleared (or injected, when it is never cleared) to the next checkpoint of progress. */
  recoverSeconds: number | null;
  /** Extra measurements (migration time, writes, client errors, ...). */
  details?: Record<string, number | string | boolean>;
  at?: string;
}

export function reportPath(): string {
  return resolve(process.env.FAULTS_REPORT ?? `${REPO}.sandbox/faults/results.jsonl`);
}

export function appendRow(row: FaultRow): void {
  const file = reportPath();
  mkdirSync(dirname(file), { recursive: true });
  appendFileSync(file, `${JSON.stringify({ ...row, at: new Date().toISOString() })}\n`);
}

/** Every row in the report file, oldest first; an empty list when there is none. */
export function readRows(file = reportPath()): FaultRow[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as FaultRow);
}
