// kube-storage-version-migrator's migrator as a peer of rekey: its StorageVersionMigration CRD
// installed, the migrator running as the sandbox admin with its client QPS limits raised far
// above what it can use, so that client-side throttling plays no part (it lists 500 objects a
// page and PUTs each back, one at a time). Its trigger controller is not run: it never fires on a
// key rotation, so each migration is created by hand, as an operator would after one.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { Peers } from '../support/peers/build.ts';
import { startDetached, stopProcess } from '../support/sandbox/processes.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';
import { adminKubeconfig, migrateSecrets, type Peer, runMigration } from './peer-migration.ts';

export const KSVM_API = { group: 'migration.k8s.io', version: 'v1alpha1' } as const;

/** Installs the CRD, starts the migrator and waits until a first (configmaps) migration succeeds. */
export async function startKsvm(sb: TestSandbox, peers: Peers): Promise<Peer> {
  const kubeconfig = adminKubeconfig(sb);
  const kubectl = sb.env.binaries.kubectl;
  if (!kubectl) throw new Error('the sandbox has no kubectl binary');
  const env = { ...process.env, KUBECONFIG: kubeconfig };
  execFileSync(kubectl, ['apply', '-f', peers.ksvmCrd], { env, stdio: 'ignore' });
  execFileSync(
    kubectl,
    [
      'wait',
      '--for=condition=Established',
      'crd/storageversionmigrations.migration.k8s.io',
      '--timeout=120s',
    ],
    { env, stdio: 'ignore' },
  );
  const rec = startDetached(
    'kube-storage-version-migrator',
    peers.ksvm,
    [`--kubeconfig=${kubeconfig}`, '--kube-api-qps=100000', '--kube-api-burst=100000'],
    { log: join(sb.dir, 'logs', 'kube-storage-version-migrator.log') },
  );
  try {
    await runMigration(sb, KSVM_API, { resource: 'configmaps', timeoutMs: 180_000 });
  } catch (err) {
    await stopProcess(rec);
    throw err;
  }
  return {
    migrate: (keyId) => migrateSecrets(sb, KSVM_API, keyId),
    stop: () => stopProcess(rec),
  };
}
