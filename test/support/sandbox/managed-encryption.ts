// `up --managed-encryption`: a sandbox whose EncryptionConfiguration rekey changes itself. Each
// apiserver's file sits alone in its own directory (as a mounted directory would on a node, so a
// node agent can write a temp file next to it and rename it over), starts as `identity` or the
// sandbox's kms provider, and is reloaded by the apiserver (automatic reload is on). A second KMS
// v2 plugin per apiserver, over a keyring of its own, serves `sandbox-kms-b`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const SECOND_PROVIDER_NAME = 'sandbox-kms-b';
export const MANAGED_INITIAL = ['identity', 'kms'] as const;
export type ManagedInitial = (typeof MANAGED_INITIAL)[number];

/** The file of apiserver `i`, in a directory of its own under `dir`. */
export function managedConfigFile(dir: string, i: number): string {
  const folder = join(dir, `encryption-${i}`);
  mkdirSync(folder, { recursive: true, mode: 0o700 });
  return join(folder, 'encryption-config.yaml');
}

/** The initial file when it is `identity`: every listed resource stored as plain data. */
export function writeIdentityEncryptionConfig(file: string, resources: readonly string[]): void {
  const config = {
    apiVersion: 'apiserver.config.k8s.io/v1',
    kind: 'EncryptionConfiguration',
    resources: [{ resources: [...resources], providers: [{ identity: {} }] }],
  };
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** The second plugin's socket and instance for apiserver `i`. */
export function secondPlugin(tmpDir: string, i: number): { instance: string; socket: string } {
  return { instance: `p${i}b`, socket: join(tmpDir, `kms-b-${i}.sock`) };
}
