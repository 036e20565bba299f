// The in-tree storage version migrator (storagemigration.k8s.io/v1alpha1) as a peer of rekey: it
// runs in kube-controller-manager, next to the garbage collector, whose metadata informers are
// what it walks (with the migrator alone, migrations never run). The apiservers must serve its API.
import { join } from 'node:path';
import { startDetached, stopProcess } from '../support/sandbox/processes.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { adminKubeconfig, migrateSecrets, type Peer, runMigration } from './peer-migration.ts';

export const SVM_API = { group: 'storagemigration.k8s.io', version: 'v1alpha1' } as const;

/** The kube-apiserver flags that serve the in-tree migrator's API (for startSandbox). */
export const SVM_APISERVER_ARGS = [
  '--feature-gates=StorageVersionMigrator=true',
  '--runtime-config=storagemigration.k8s.io/v1alpha1=true',
] as const;

/** Starts kube-controller-manager and waits until a first (configmaps) migration succeeds. */
export async function startSvm(sb: TestSandbox): Promise<Peer> {
  const binary = sb.env.binaries['kube-controller-manager'];
  if (!binary) throw new Error('the sandbox has no kube-controller-manager binary');
  const rec = startDetached(
    'kube-controller-manager',
    binary,
    [
      `--kubeconfig=${adminKubeconfig(sb)}`,
      '--controllers=garbagecollector,svm',
      '--feature-gates=StorageVersionMigrator=true,InformerResourceVersion=true',
      '--leader-elect=false',
      '--secure-port=0',
      '--v=1',
    ],
    { log: join(sb.dir, 'logs', 'kube-controller-manager.log') },
  );
  try {
    await runMigration(sb, SVM_API, { resource: 'configmaps', timeoutMs: 180_000 });
  } catch (err) {
    await stopProcess(rec);
    throw err;
  }
  return {
    migrate: (keyId) => migrateSecrets(sb, SVM_API, keyId),
    stop: () => stopProcess(rec),
  };
}
