// An OpenBao dev server for the sandbox: in memory, unsealed, on loopback at a free port, with the
// transit engine enabled and one key created. The root token is random, passed through the
// environment (not the command line) and kept in a file only its owner reads; the plugins and
// rekey read it from there.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, waitFor } from '../sandbox/net.ts';
import { isAlive, type ProcessRecord, startDetached } from '../sandbox/processes.ts';

export interface OpenbaoServer {
  address: string;
  tokenFile: string;
  /** The transit key the plugins wrap with, as rekey names it: `<mount>/keys/<name>`. */
  key: string;
}

async function bao(
  address: string,
  token: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Response> {
  return fetch(`${address}/v1/${path}`, {
    method,
    headers: { 'X-Vault-Token': token, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(5000),
  });
}

async function must(r: Promise<Response>, what: string): Promise<void> {
  const res = await r;
  if (!res.ok) throw new Error(`openbao: ${what}: HTTP ${res.status}: ${await res.text()}`);
}

export async function startOpenbao(
  binary: string,
  { dir, logDir, keyName = 'kms' }: { dir: string; logDir: string; keyName?: string },
  track: (rec: ProcessRecord) => void,
): Promise<OpenbaoServer> {
  const port = await freePort();
  const address = `http://127.0.0.1:${port}`;
  const token = randomBytes(24).toString('hex');
  const tokenFile = join(dir, 'openbao-token');
  writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  const rec = startDetached(
    'openbao',
    binary,
    ['server', '-dev', `-dev-listen-address=127.0.0.1:${port}`, '-dev-no-store-token'],
    {
      log: join(logDir, 'openbao.log'),
      env: { ...process.env, BAO_DEV_ROOT_TOKEN_ID: token, HOME: dir },
    },
  );
  track(rec);
  await waitFor('openbao /v1/sys/health', async () => {
    if (!isAlive(rec.pid)) throw new Error(`openbao exited during start-up; see ${rec.log}`);
    const res = await fetch(`${address}/v1/sys/health`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 ? true : undefined;
  });
  await must(
    bao(address, token, 'POST', 'sys/mounts/transit', { type: 'transit' }),
    'enable transit',
  );
  await must(bao(address, token, 'POST', `transit/keys/${keyName}`, {}), `create key ${keyName}`);
  return { address, tokenFile, key: `transit/keys/${keyName}` };
}

/** Raises the key's min_decryption_version (tests of the danger it makes). */
export async function setMinDecryptionVersion(
  server: { address: string; tokenFile: string; key: string },
  version: number,
): Promise<void> {
  const token = readFileSync(server.tokenFile, 'utf8').trim();
  await must(
    bao(server.address, token, 'POST', `${server.key}/config`, { min_decryption_version: version }),
    `set min_decryption_version ${version}`,
  );
}
