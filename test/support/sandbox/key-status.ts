// The key side of a sandbox: which key_id each apiserver reports (from its metrics), hurrying
// adoption, rotating the keyring, and waiting until apiservers adopt a key.
import { readFileSync } from 'node:fs';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { currentKeyIdHashes, parseKeyIdStatus } from '../../../shared/domain/key-id-metrics.ts';
import { openKeyring, rotate as rotateKeyring, rotateTo } from '../kms-plugin/keyring.ts';
import { apiserverGet } from './apiserver-http.ts';
import { defaultSandboxDir, readEnv, type SandboxEnv } from './env-file.ts';
import { waitFor } from './net.ts';

function adminToken(env: SandboxEnv): string {
  return readFileSync(env.tokens.adminFile, 'utf8').trim();
}

/** Every key_id the keyring ever issued, by metrics hash, so status can name what it sees. */
async function keyIdsByHash(env: SandboxEnv): Promise<Map<string, string>> {
  const ids = await openKeyring({ dir: env.kms.keyringDir }).keyIds();
  return new Map(ids.map((id) => [keyIdHash(id), id]));
}

export interface ApiserverKeyStatus {
  apiserver: string;
  url: string;
  up: boolean;
  /** key_id the apiserver last got from its plugin's Status, per its metrics. */
  keyId?: string;
  keyIdHash?: string;
  apiserverIdHash?: string;
  error?: string;
}

/** What key_id each apiserver reports, read from its metrics. */
export async function status({
  dir = defaultSandboxDir(),
}: {
  dir?: string;
} = {}): Promise<ApiserverKeyStatus[]> {
  const env = readEnv(dir);
  const names = await keyIdsByHash(env);
  const token = adminToken(env);
  return Promise.all(
    env.apiservers.map(async (a): Promise<ApiserverKeyStatus> => {
      try {
        const r = await apiserverGet(a, '/metrics', token);
        if (r.status !== 200)
          return { apiserver: a.name, url: a.url, up: false, error: `metrics: HTTP ${r.status}` };
        const now = currentKeyIdHashes(parseKeyIdStatus(r.body)).find(
          (s) => s.providerName === env.kms.providerName,
        );
        if (!now)
          return {
            apiserver: a.name,
            url: a.url,
            up: true,
            error: 'no key_id status reported yet',
          };
        const keyId = names.get(now.keyIdHash);
        return {
          apiserver: a.name,
          url: a.url,
          up: true,
          ...(keyId ? { keyId } : {}),
          keyIdHash: now.keyIdHash,
          apiserverIdHash: now.apiserverIdHash,
        };
      } catch (err) {
        return { apiserver: a.name, url: a.url, up: false, error: (err as Error).message };
      }
    }),
  );
}

/** Asks each apiserver to re-check its KMS plugin now (it does when its last check is >20 s old). */
export async function pokeKmsHealth(env: SandboxEnv): Promise<void> {
  const token = adminToken(env);
  await Promise.all(
    env.apiservers.map((a) => apiserverGet(a, '/readyz/kms-providers', token).catch(() => {})),
  );
}

/**
 * Rotates the keyring for the given plugins (all by default) and returns the new key_id; with
 * `to`, points them back at that earlier key_id instead (a rollback). The plugins pick it up on
 * their next Status; the apiservers within their poll interval.
 */
export function rotate({
  dir = defaultSandboxDir(),
  only,
  to,
}: {
  dir?: string;
  only?: number[];
  to?: string;
} = {}): Promise<string> {
  const env = readEnv(dir);
  if (env.kms.backend) {
    throw new Error(`this sandbox's plugins use ${env.kms.backend.kind} KMS: rotate the key there`);
  }
  const instances = (only ?? env.apiservers.map((_, i) => i)).map((i) => {
    const a = env.apiservers[i];
    if (!a) throw new Error(`no apiserver ${i}: this sandbox has ${env.apiservers.length}`);
    return a.plugin.instance;
  });
  return to === undefined
    ? rotateKeyring(env.kms.keyringDir, instances)
    : rotateTo(env.kms.keyringDir, instances, to);
}

/** Waits until the given apiservers (all by default) report `keyId`, poking them to hurry. */
export async function waitForKeyId(
  keyId: string,
  {
    dir = defaultSandboxDir(),
    only,
    timeoutMs = 180_000,
  }: { dir?: string; only?: number[]; timeoutMs?: number } = {},
): Promise<number> {
  const env = readEnv(dir);
  const started = Date.now();
  const which = new Set(only ?? env.apiservers.map((_, i) => i));
  await waitFor(
    `apiservers ${[...which].join(',')} to report key_id ${keyId}`,
    async () => {
      await pokeKmsHealth(env);
      const s = await status({ dir });
      return s.every((x, i) => !which.has(i) || x.keyId === keyId) ? true : undefined;
    },
    { timeoutMs, intervalMs: 2000 },
  );
  return Date.now() - started;
}
