// Starts a private sandbox for one test file (its own folder and free ports, so files can run
// side by side) and stops it afterwards.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { PluginBackend } from './sandbox/components.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';
import { down, type SandboxKms, type UpOptions, up } from './sandbox/sandbox.ts';

export interface TestSandbox {
  env: SandboxEnv;
  dir: string;
  stop(): Promise<void>;
}

export async function startSandbox({
  apiservers = 1,
  pluginBackend,
  encrypt,
  kms,
  apiserverArgs,
  managedEncryption,
}: {
  /** Files rekey may change, and a second kms provider (see UpOptions.managedEncryption). */
  managedEncryption?: UpOptions['managedEncryption'];
  apiservers?: number;
  /** `openbao`: an OpenBao dev server's transit key behind the plugins (see UpOptions.kms). */
  kms?: SandboxKms;
  pluginBackend?: PluginBackend;
  /** What the EncryptionConfiguration encrypts (see UpOptions.encrypt); default the sandbox's. */
  encrypt?: readonly string[];
  /** Extra kube-apiserver flags (see UpOptions.apiserverArgs). */
  apiserverArgs?: readonly string[];
} = {}): Promise<TestSandbox> {
  const dir = mkdtempSync(join(tmpdir(), 'rekey-test-'));
  const env = await up({
    dir,
    apiservers,
    ...(pluginBackend ? { pluginBackend } : {}),
    ...(encrypt ? { encrypt } : {}),
    ...(kms ? { kms } : {}),
    ...(apiserverArgs ? { apiserverArgs } : {}),
    ...(managedEncryption ? { managedEncryption } : {}),
  });
  return {
    env,
    dir,
    async stop() {
      await down({ dir });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
