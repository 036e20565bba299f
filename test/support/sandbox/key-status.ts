// The key side of a sandbox: which key_id each apiserver reports (from its metrics), hurrying
// adoption, rotating the keyring, and waiting until apiservers adopt a key.
import { readFileSync } from 'node:fs';
import { createVaultTransit } from '../../../shared/adapters/vault-transit/client.ts';
import { keyIdHash } from '../../../shared/domain/key-id.ts';
import { currentKeyIdHashes, parseKeyIdStatus } from '../../../shared/domain/key-id-metrics.ts';
import { transitKeyId } from '../../../shared/domain/transit-key.ts';
import { openKeyring, rotate as rotateKeyring, rotateTo } from '../kms-plugin/keyring.ts';
import { apiserverGet } from './apiserver-http.ts';
import { defaultSandboxDir, readEnv, type SandboxEnv } from './env-file.ts';
import { secondPlugin } from './managed-encryption.ts';
import { waitFor } from './net.ts';

function adminToken(env: SandboxEnv): string {
  return readFileSync(env.tokens.adminFile, 'utf8').trim();
}

/** The sandbox's transit key on its OpenBao server, when the plugins use one. */
function transitOf(env: SandboxEnv) {
  const b = env.kms.backend;
  if (b?.kind !== 'transit' || !b.tokenFile) return undefined;
  return {
    key: b.key,
    transit: createVaultTransit({ address: b.endpoint, tokenFile: b.tokenFile }),
  };
}

/**
 * The keyring behind `provider` and each apiserver's plugin instance on it: the sandbox's own
 * provider (default), or the second one of `up --managed-encryption` (`sandbox-kms-b`).
 */
function keyringOf(env: SandboxEnv, provider = env.kms.providerName) {
  if (provider === env.kms.providerName) {
    return { dir: env.kms.keyringDir, instances: env.apiservers.map((a) => a.plugin.instance) };
  }
  const m = env.managedEncryption;
  if (m?.secondProvider !== provider) {
    throw new Error(`this sandbox has no plugins for provider ${provider}`);
  }
  return {
    dir: m.secondKeyringDir,
    instances: env.apiservers.map((_, i) => secondPlugin(env.tmpDir, i).instance),
  };
}

/** Every key_id the keyring (or transit key) ever issued, by metrics hash, so status can name what it sees. */
async function keyIdsByHash(env: SandboxEnv, provider?: string): Promise<Map<string, string>> {
  const t = transitOf(env);
  if (t && (provider === undefined || provider === env.kms.providerName)) {
    const { latestVersion } = await t.transit.readKey(t.key);
    const ids = Array.from({ length: latestVersion }, (_, i) => transitKeyId(i + 1));
    return new Map(ids.map((id) => [keyIdHash(id), id]));
  }
  const ids = await openKeyring({ dir: keyringOf(env, provider).dir }).keyIds();
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

/** What key_id each apiserver reports for `provider` (default the sandbox's), from its metrics. */
export async function status({
  dir = defaultSandboxDir(),
  provider,
}: {
  dir?: string;
  provider?: string;
} = {}): Promise<ApiserverKeyStatus[]> {
  const env = readEnv(dir);
  const providerName = provider ?? env.kms.providerName;
  const names = await keyIdsByHash(env, providerName);
  const token = adminToken(env);
  return Promise.all(
    env.apiservers.map(async (a): Promise<ApiserverKeyStatus> => {
      try {
        const r = await apiserverGet(a, '/metrics', token);
        if (r.status !== 200)
          return { apiserver: a.name, url: a.url, up: false, error: `metrics: HTTP ${r.status}` };
        const now = currentKeyIdHashes(parseKeyIdStatus(r.body)).find(
          (s) => s.providerName === providerName,
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
 * `to`, points them back at that earlier key_id instead (a rollback). With `--kms openbao`,
 * rotates the transit key on the server instead (a new version: the key_id the plugins report). The plugins pick it up on
 * their next Status; the apiservers within their poll interval.
 */
export function rotate({
  dir = defaultSandboxDir(),
  only,
  to,
  provider,
}: {
  dir?: string;
  only?: number[];
  to?: string;
  /** Whose plugins: the sandbox's provider (default) or `sandbox-kms-b` (managed encryption). */
  provider?: string;
} = {}): Promise<string> {
  const env = readEnv(dir);
  const t = transitOf(env);
  const ring = keyringOf(env, provider);
  if (t && (provider === undefined || provider === env.kms.providerName)) {
    // one key on one server behind every plugin: a rotation reaches them all, forward only
    if (only !== undefined || to !== undefined) {
      throw new Error(
        'the transit key rotates for every plugin at once, forward only: no --only or --to',
      );
    }
    return t.transit.rotate(t.key).then((s) => transitKeyId(s.latestVersion));
  }
  if (env.kms.backend && ring.dir === env.kms.keyringDir) {
    throw new Error(`this sandbox's plugins use ${env.kms.backend.kind} KMS: rotate the key there`);
  }
  const instances = (only ?? env.apiservers.map((_, i) => i)).map((i) => {
    const a = env.apiservers[i];
    if (!a) throw new Error(`no apiserver ${i}: this sandbox has ${env.apiservers.length}`);
    return ring.instances[i] as string;
  });
  return to === undefined ? rotateKeyring(ring.dir, instances) : rotateTo(ring.dir, instances, to);
}

/** Waits until the given apiservers (all by default) report `keyId`, poking them to hurry. */
export async function waitForKeyId(
  keyId: string,
  {
    dir = defaultSandboxDir(),
    only,
    timeoutMs = 180_000,
    provider,
  }: { dir?: string; only?: number[]; timeoutMs?: number; provider?: string } = {},
): Promise<number> {
  const env = readEnv(dir);
  const started = Date.now();
  const which = new Set(only ?? env.apiservers.map((_, i) => i));
  await waitFor(
    `apiservers ${[...which].join(',')} to report key_id ${keyId}`,
    async () => {
      await pokeKmsHealth(env);
      const s = await status({ dir, ...(provider ? { provider } : {}) });
      return s.every((x, i) => !which.has(i) || x.keyId === keyId) ? true : undefined;
    },
    { timeoutMs, intervalMs: 2000 },
  );
  return Date.now() - started;
}
