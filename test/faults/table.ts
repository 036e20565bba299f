// Prints the fault table (markdown) from the rows the fault tests measured: the latest run of
// each fault, and how many runs of it the file holds and survived.
// Usage: node test/faults/table.ts [results.jsonl]   (default: $FAULTS_REPORT or .sandbox/faults/)
import { type FaultRow, readRows, reportPath } from './report.ts';

function cell(v: unknown): string {
  return String(v).replaceAll('|', '\\|').replaceAll('\n', ' ');
}

export function faultTable(rows: readonly FaultRow[]): string {
  const byFault = new Map<string, FaultRow[]>();
  for (const r of rows) byFault.set(r.fault, [...(byFault.get(r.fault) ?? []), r]);
  const lines = [
    '| fault | injected | survived | lost | time to recover (s) | runs survived |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const fault of [...byFault.keys()].sort((a, b) =>
    a.localeCompare(b, 'en', { numeric: true }),
  )) {
    const runs = byFault.get(fault) ?? [];
    const last = runs.at(-1) as FaultRow;
    const recover = last.recoverSeconds === null ? 'never' : last.recoverSeconds.toFixed(1);
    const ok = runs.filter((r) => r.survived).length;
    lines.push(
      `| ${cell(fault)} | ${cell(last.injected)} | ${last.survived ? 'yes' : '**no**'} | ${last.lost} | ${recover} | ${ok}/${runs.length} |`,
    );
  }
  return lines.join('\n');
}

if (import.meta.main) {
  const file = process.argv[2] ?? reportPath();
  const rows = readRows(file);
  if (rows.length === 0) {
    process.stderr.write(`no fault rows in ${file}: run the fault tests first\n`);
    process.exit(1);
  }
  process.stdout.write(`${faultTable(rows)}\n\n(${rows.length} rows from ${file})\n`);
}
