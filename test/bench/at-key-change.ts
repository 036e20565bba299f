// Started at the key change: on a sandbox of two apiservers, each tool is started the moment the
// key rotates, before the apiservers have adopted the new key, and what it leaves under an older
// key is counted from etcd once it reports done. rekey waits for every apiserver to adopt the key
// before it rewrites; a storage version migrator has no such gate, and a rewrite through an
// apiserver that still encrypts with the old key leaves the object under the old key.
import { etcdSummary } from '../support/etcd-keys.ts';
import { coreApi } from '../support/kube.ts';
import type { Peers } from '../support/peers/build.ts';
import { rotate, waitForKeyId } from '../support/sandbox/sandbox.ts';
import { startSandbox, type TestSandbox } from '../support/sandbox-fixture.ts';
import { seedMany } from '../support/seed.ts';
import { rekeyAcrossRotation } from './first-rewrite.ts';
import { currentKeyId } from './key-rotation.ts';
import { startKsvm } from './ksvm.ts';
import type { Peer } from './peer-migration.ts';
import { runnerEnv, runRunner } from './runner-process.ts';
import { SVM_APISERVER_ARGS, startSvm } from './svm.ts';

export interface LeftUnderOldKey {
  /** Secrets in etcd. */
  total: number;
  /** Percent of them not under the new key once each tool was done. */
  rekey: number;
  ksvm: number;
  svm: number;
}

async function percentNotUnder(sb: TestSandbox, keyId: string): Promise<number> {
  const summary = await etcdSummary(sb.env);
  const under = summary.rows.filter((r) => r.keyID === keyId).reduce((s, r) => s + r.count, 0);
  return (100 * (summary.objects - under)) / summary.objects;
}

/** Rotates, starts `peer`'s migration at once, then waits for the adoption (for the next phase). */
async function peerAtKeyChange(sb: TestSandbox, peer: Peer): Promise<number> {
  const keyId = await rotate({ dir: sb.dir });
  const result = await peer.migrate(keyId);
  await waitForKeyId(keyId, { dir: sb.dir });
  return (100 * (result.total - result.reencrypted)) / result.total;
}

export async function leftUnderOldKey({
  secrets,
  peers,
  log,
}: {
  secrets: number;
  peers: Peers;
  log: (line: string) => void;
}): Promise<LeftUnderOldKey> {
  log('starting a sandbox of 2 apiservers');
  const sb = await startSandbox({ apiservers: 2, apiserverArgs: SVM_APISERVER_ARGS });
  const started: Peer[] = [];
  try {
    const perNamespace = 500;
    const namespaces = Math.max(1, Math.ceil(secrets / perNamespace));
    log(`seeding ${namespaces * perNamespace} secrets`);
    await seedMany(coreApi(sb.env), {
      namespaces,
      perNamespace,
      prefix: 'keychange',
      concurrency: 32,
    });
    const env = runnerEnv(sb);
    await runRunner(env); // rekey records the first key_id: nothing stale
    const ksvm = await startKsvm(sb, peers);
    started.push(ksvm);
    const svm = await startSvm(sb);
    started.push(svm);

    log('rekey, polling when the key rotates');
    const r = await rekeyAcrossRotation(env, sb.dir, await currentKeyId(sb));
    const rekey = await percentNotUnder(sb, r.keyId);
    log('kube-storage-version-migrator, started at the key change');
    const ksvmLeft = await peerAtKeyChange(sb, ksvm);
    log('in-tree storage version migrator, started at the key change');
    const svmLeft = await peerAtKeyChange(sb, svm);
    return { total: (await etcdSummary(sb.env)).objects, rekey, ksvm: ksvmLeft, svm: svmLeft };
  } finally {
    for (const p of started) await p.stop();
    await sb.stop();
  }
}
