// One migration by a storage version migrator, the way each is driven by hand: create a
// StorageVersionMigration for secrets, wait for its Succeeded (or Failed) condition. What it
// achieved is counted from etcd (secrets now under `keyId`), not taken from its status.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CustomObjectsApi } from '@kubernetes/client-node';
import { etcdSummary } from '../support/etcd-keys.ts';
import { kubeConfig } from '../support/kube.ts';
import { waitFor } from '../support/sandbox/net.ts';
import type { TestSandbox } from '../support/sandbox-fixture.ts';

/** The API group and version of a migrator's StorageVersionMigration resource. */
export interface MigrationApi {
  group: string;
  version: string;
}

export interface PeerMigrationResult {
  /** From the creation of the migration to its Succeeded condition. */
  elapsedMs: number;
  /** Secrets under `keyId` in etcd afterwards. */
  reencrypted: number;
  /** Secrets in etcd. */
  total: number;
}

/** A storage version migrator, running against the sandbox. */
export interface Peer {
  migrate(keyId: string): Promise<PeerMigrationResult>;
  stop(): Promise<void>;
}

/** A kubeconfig file for the sandbox admin on apiserver 0 (the peers' identity). */
export function adminKubeconfig(sb: TestSandbox): string {
  const file = join(sb.dir, 'kubeconfig-peers');
  writeFileSync(file, kubeConfig(sb.env).exportConfig(), { mode: 0o600 });
  return file;
}

interface Condition {
  type?: string;
  status?: string;
  message?: string;
}

let serial = 0;

/** Creates a migration of `resource` (core group) and resolves once it has Succeeded. */
export async function runMigration(
  sb: TestSandbox,
  api: MigrationApi,
  { resource = 'secrets', timeoutMs = 30 * 60_000 } = {},
): Promise<number> {
  const custom = kubeConfig(sb.env).makeApiClient(CustomObjectsApi);
  const ref = { group: api.group, version: api.version, plural: 'storageversionmigrations' };
  const name = `bench-${resource}-${process.pid}-${++serial}`;
  const started = performance.now();
  await custom.createClusterCustomObject({
    ...ref,
    body: {
      apiVersion: `${api.group}/${api.version}`,
      kind: 'StorageVersionMigration',
      metadata: { name },
      spec: { resource: { group: '', version: 'v1', resource } },
    },
  });
  // waitFor retries a probe that throws, so a Failed condition is returned, then thrown
  const failed = await waitFor(
    `StorageVersionMigration ${name} (${api.group}) to succeed`,
    async () => {
      const m = (await custom.getClusterCustomObject({ ...ref, name })) as {
        status?: { conditions?: Condition[] };
      };
      const conditions = m.status?.conditions ?? [];
      const done = (type: string) => conditions.find((c) => c.type === type && c.status === 'True');
      const f = done('Failed');
      if (f) return f.message ?? 'no message';
      return done('Succeeded') ? null : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  );
  if (failed !== null) throw new Error(`migration ${name} failed: ${failed}`);
  return performance.now() - started;
}

/** Migrates every secret and counts from etcd how many are now under `keyId`. */
export async function migrateSecrets(
  sb: TestSandbox,
  api: MigrationApi,
  keyId: string,
): Promise<PeerMigrationResult> {
  const elapsedMs = await runMigration(sb, api);
  const summary = await etcdSummary(sb.env);
  const reencrypted = summary.rows
    .filter((r) => r.keyID === keyId)
    .reduce((sum, r) => sum + r.count, 0);
  return { elapsedMs, reencrypted, total: summary.objects };
}
