// The reporter's look at the apiserver's EncryptionConfiguration file (ENCRYPTION_CONFIG_FILE,
// mounted read-only): its hash and the entries that name this reporter's provider. Re-read every
// tick because the apiserver reloads the file on change (--encryption-provider-config-automatic-reload).
// A missing or broken file is itself news for rekey, so it becomes `encryptionConfigError`, never
// an exception. Only names and types leave this module: the file may hold aescbc/secretbox keys.
import { readFile } from 'node:fs/promises';
import type { KeyIdReport } from '../../shared/adapters/k8s/key-id-reports.ts';
import { kmsCoverage, parseEncryptionConfig } from '../../shared/domain/encryption-config.ts';

export type ConfigFields = Pick<KeyIdReport, 'encryptionConfig' | 'encryptionConfigError'>;

// Reports are ConfigMap data read by humans and rekey; keep an error line short.
const MAX_ERROR_CHARS = 300;

function describe(err: unknown): string {
  const text = err instanceof Error ? `${err.name}: ${err.message}` : `error: ${String(err)}`;
  return text.length > MAX_ERROR_CHARS ? `${text.slice(0, MAX_ERROR_CHARS - 1)}…` : text;
}

/** Reads and summarizes `path` for `provider`; never rejects. */
export async function readEncryptionConfig(
  path: string,
  provider: string,
  read: (path: string) => Promise<Uint8Array> = readFile,
): Promise<ConfigFields> {
  try {
    const summary = parseEncryptionConfig(await read(path));
    return {
      encryptionConfig: {
        hash: summary.hash,
        path,
        resources: kmsCoverage(summary, provider),
        // names and types only: parseEncryptionConfig keeps no key material
        entries: summary.entries,
      },
    };
  } catch (err) {
    return { encryptionConfigError: describe(err) };
  }
}
