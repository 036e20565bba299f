// Builds (once per pin, and only when the bench asks) the storage version migrators rekey is
// compared with, from the published Go modules pinned in ./go.mod: kube-storage-version-migrator's
// migrator, and its StorageVersionMigration CRD taken from the same module. The in-tree migrator
// runs in kube-controller-manager, which the sandbox's control plane build provides.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheBase } from '../sandbox/build.ts';

export const PEERS_MODULE = fileURLToPath(new URL('./', import.meta.url));
const KSVM_MODULE = 'sigs.k8s.io/kube-storage-version-migrator';
const KSVM_CRD = 'manifests/storage_migration_crd.yaml';

export interface Peers {
  /** kube-storage-version-migrator's migrator binary. */
  ksvm: string;
  /** Its StorageVersionMigration (migration.k8s.io/v1alpha1) CRD, as the module ships it. */
  ksvmCrd: string;
}

function go(args: string[], stdio: 'pipe' | 'inherit' = 'pipe'): string {
  return (
    execFileSync('go', args, {
      cwd: PEERS_MODULE,
      encoding: 'utf8',
      stdio: ['ignore', stdio, 'inherit'],
      env: process.env,
    }) ?? ''
  );
}

/** The pin: everything that decides what the build produces. A change of any of it rebuilds. */
export function peersPinHash(): string {
  const h = createHash('sha256');
  h.update(go(['env', 'GOVERSION']));
  for (const f of ['go.mod', 'go.sum']) h.update(readFileSync(join(PEERS_MODULE, f)));
  for (const dir of readdirSync(join(PEERS_MODULE, 'cmd')).sort()) {
    h.update(dir);
    h.update(readFileSync(join(PEERS_MODULE, 'cmd', dir, 'main.go')));
  }
  return h.digest('hex').slice(0, 16);
}

/** Returns the cached peers, building them first when the pin changed. */
export function ensurePeers({ log = (_: string) => {} } = {}): Peers {
  const dir = join(cacheBase(), 'peers', peersPinHash());
  const peers: Peers = {
    ksvm: join(dir, 'kube-storage-version-migrator'),
    ksvmCrd: join(dir, 'storage_migration_crd.yaml'),
  };
  if (Object.values(peers).every((f) => existsSync(f))) return peers;

  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  log(`building kube-storage-version-migrator into ${dir} (first run only: several minutes)`);
  const started = Date.now();
  go(['build', '-trimpath', '-buildvcs=false', '-o', `${tmp}/`, './cmd/...'], 'inherit');
  const moduleDir = go(['list', '-m', '-f', '{{.Dir}}', KSVM_MODULE]).trim();
  copyFileSync(join(moduleDir, KSVM_CRD), join(tmp, 'storage_migration_crd.yaml'));
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return peers;
}
