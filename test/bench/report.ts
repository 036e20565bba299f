// The bench's output: one JSON line per figure as soon as it is measured, then a markdown table
// of every figure with its target and whether the numbers meet it, also written to
// .sandbox/bench/latest.{md,jsonl} so the README can be updated from one run.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { join } from 'node:path';

export interface Target {
  op: '>=' | '<=';
  value: number;
  /** How the target reads in the table when the bare number would mislead (units, ratios). */
  text?: string;
}

export interface FigureLine {
  figure: string;
  value: number;
  unit: string;
  n: number;
  runs: number;
  machine: { cpus: number; cpuModel: string; memGiB: number; node: string };
}

const machine: FigureLine['machine'] = {
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
  memGiB: Math.round(totalmem() / 2 ** 30),
  node: process.version,
};

export function createReport() {
  const lines: { line: FigureLine; target?: Target }[] = [];
  return {
    emit(figure: string, value: number, unit: string, n: number, runs: number, target?: Target) {
      // two decimals: ratios such as 1.24 must not round onto their 1.2 target
      const line = { figure, value: Math.round(value * 100) / 100, unit, n, runs, machine };
      lines.push(target ? { line, target } : { line });
      process.stdout.write(`${JSON.stringify(line)}\n`);
    },
    /** Prints the markdown table and writes both files into `dir`. */
    finish(dir: string): void {
      const rows = lines.map(({ line: l, target: t }) => {
        const verdict = !t
          ? ''
          : Number.isNaN(l.value)
            ? 'not measured'
            : (t.op === '>=' ? l.value >= t.value : l.value <= t.value)
              ? 'met'
              : 'not met';
        const goal = t ? (t.text ?? `${t.op === '>=' ? '≥' : '≤'} ${t.value} ${l.unit}`) : '';
        return [
          l.figure,
          l.n.toLocaleString('en'),
          String(l.value),
          l.unit,
          String(l.runs),
          goal,
          verdict,
        ];
      });
      const table = [
        '| figure | N | value | unit | runs | target | verdict |',
        '| --- | --- | --- | --- | --- | --- | --- |',
        ...rows.map((r) => `| ${r.join(' | ')} |`),
      ].join('\n');
      const about = `Machine: ${machine.cpus} × ${machine.cpuModel}, ${machine.memGiB} GiB, Node ${machine.node}; ${new Date().toISOString()}`;
      process.stdout.write(`\n${table}\n\n${about}\n`);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'latest.md'), `${table}\n\n${about}\n`);
      writeFileSync(
        join(dir, 'latest.jsonl'),
        lines.map((x) => `${JSON.stringify(x.line)}\n`).join(''),
      );
    },
  };
}

export type Report = ReturnType<typeof createReport>;
