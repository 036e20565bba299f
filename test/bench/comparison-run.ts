// One run of the side-by-side figures on N stale secrets, each phase after a rotation of its
// own: clients idle; kubectl replace alone, then with the clients; the no-op ceiling sweep; rekey
// with the clients; rekey alone, already polling when the key rotates. The order matters: the
// last phase needs rekey to have completed the current key_id, which the one before it does.
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { type CeilingLevel, noOpCeiling } from './ceiling.ts';
import type { Clients, LatencyStats } from './client-latency.ts';
import { type AcrossRotation, rekeyAcrossRotation } from './first-rewrite.ts';
import { rotateAndAdopt } from './key-rotation.ts';
import { type KubectlReplaceResult, kubectlReplace } from './kubectl-replace.ts';
import { runRunner } from './runner-process.ts';

export interface ComparisonRun {
  kubectl: KubectlReplaceResult;
  kubectlUnderLoad: KubectlReplaceResult;
  ceiling: CeilingLevel[];
  rekey: AcrossRotation;
  latency: { idle: LatencyStats; kubectl: LatencyStats; rekey: LatencyStats };
}

export interface ComparisonSetup {
  sb: TestSandbox;
  runnerEnv: NodeJS.ProcessEnv;
  clients: Clients;
  idleMs: number;
  ceilingLevels: number[];
  log: (line: string) => void;
}

export async function comparisonRun(s: ComparisonSetup): Promise<ComparisonRun> {
  s.log('clients idle');
  const idle = await s.clients.idle(s.idleMs);

  let k = await rotateAndAdopt(s.sb);
  s.log(`kubectl replace -> ${k}`);
  const kubectl = await kubectlReplace(s.sb, k);

  k = await rotateAndAdopt(s.sb);
  s.log(`kubectl replace with clients -> ${k}`);
  const kubectlLoad = await s.clients.during(() => kubectlReplace(s.sb, k));

  k = await rotateAndAdopt(s.sb);
  s.log(`no-op ceiling sweep ${s.ceilingLevels.join(',')} -> ${k}`);
  const ceiling = await noOpCeiling(s.sb.env, s.ceilingLevels);

  const before = k;
  k = await rotateAndAdopt(s.sb);
  s.log(`rekey with clients -> ${k}`);
  const rekeyLoad = await s.clients.during(() => runRunner(s.runnerEnv, before));

  s.log(`rekey across a rotation from ${k}`);
  const rekey = await rekeyAcrossRotation(s.runnerEnv, s.sb.dir, k);
  const samples = [idle, kubectlLoad.latency, rekeyLoad.latency].map((l) => l.samples);
  s.log(`client samples (idle, kubectl, rekey): ${samples.join(', ')}`);
  return {
    kubectl,
    kubectlUnderLoad: kubectlLoad.result,
    ceiling,
    rekey,
    latency: { idle, kubectl: kubectlLoad.latency, rekey: rekeyLoad.latency },
  };
}
