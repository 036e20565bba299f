// One run of the side-by-side figures on N stale secrets, each phase after a rotation of its
// own: clients idle; kubectl replace alone, then with the clients; the no-op ceiling sweep;
// kube-storage-version-migrator, the in-tree migrator and rekey, each with the clients; rekey
// alone, already polling when the key rotates. The order matters: the
// last phase needs rekey to have completed the current key_id, which the one before it does.
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { type CeilingLevel, noOpCeiling } from './ceiling.ts';
import type { Clients, LatencyStats } from './client-latency.ts';
import { type AcrossRotation, rekeyAcrossRotation } from './first-rewrite.ts';
import { rotateAndAdopt } from './key-rotation.ts';
import { type KubectlReplaceResult, kubectlReplace } from './kubectl-replace.ts';
import type { Peer, PeerMigrationResult } from './peer-migration.ts';
import { type RunnerResult, runRunner } from './runner-process.ts';

export interface ComparisonRun {
  kubectl: KubectlReplaceResult;
  kubectlUnderLoad: KubectlReplaceResult;
  ceiling: CeilingLevel[];
  rekey: AcrossRotation;
  /** The migrations with the clients running: rekey's and each storage version migrator's. */
  rekeyUnderLoad: RunnerResult;
  ksvm: PeerMigrationResult;
  svm: PeerMigrationResult;
  latency: Record<'idle' | 'kubectl' | 'rekey' | 'ksvm' | 'svm', LatencyStats>;
}

export interface ComparisonSetup {
  sb: TestSandbox;
  runnerEnv: NodeJS.ProcessEnv;
  clients: Clients;
  idleMs: number;
  ceilingLevels: number[];
  peers: { ksvm: Peer; svm: Peer };
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

  k = await rotateAndAdopt(s.sb);
  s.log(`kube-storage-version-migrator with clients -> ${k}`);
  const ksvm = await s.clients.during(() => s.peers.ksvm.migrate(k));

  k = await rotateAndAdopt(s.sb);
  s.log(`in-tree storage version migrator with clients -> ${k}`);
  const svm = await s.clients.during(() => s.peers.svm.migrate(k));

  const before = k;
  k = await rotateAndAdopt(s.sb);
  s.log(`rekey with clients -> ${k}`);
  const rekeyLoad = await s.clients.during(() => runRunner(s.runnerEnv, before));

  s.log(`rekey across a rotation from ${k}`);
  const rekey = await rekeyAcrossRotation(s.runnerEnv, s.sb.dir, k);
  const latency = {
    idle,
    kubectl: kubectlLoad.latency,
    rekey: rekeyLoad.latency,
    ksvm: ksvm.latency,
    svm: svm.latency,
  };
  const samples = Object.entries(latency).map(([phase, l]) => `${phase} ${l.samples}`);
  s.log(`client samples: ${samples.join(', ')}`);
  return {
    kubectl,
    kubectlUnderLoad: kubectlLoad.result,
    ceiling,
    rekey,
    rekeyUnderLoad: rekeyLoad.result,
    ksvm: ksvm.result,
    svm: svm.result,
    latency,
  };
}
