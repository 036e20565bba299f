// Vault / OpenBao transit over its HTTP API (plain fetch, the documented endpoints under /v1):
// read a key's versions, rotate it, and encrypt and decrypt with it. rekey itself only reads and
// rotates; encrypt and decrypt are here for KMS plugins built on this adapter (the sandbox's).
// The token is read from its file on every call (an agent may renew it there), sent only in the
// X-Vault-Token header, and never put into a message or a log.
import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../config/config.ts';
import {
  parseTransitKey,
  type TransitKeyRef,
  type TransitKeyState,
} from '../../domain/transit-key.ts';
import { noAnswer, VaultTransitError, vaultErrorText } from './errors.ts';

export interface VaultTransitOptions {
  /** The server, e.g. `https://vault.example:8200`. */
  address: string;
  /** A file holding the token (e.g. written by Vault Agent). */
  tokenFile: string;
  /** Vault Enterprise / OpenBao namespace, sent as X-Vault-Namespace. */
  namespace?: string;
  timeoutMs?: number;
}

export interface TransitEncrypted {
  /** `vault:v<N>:<base64>`, as the server made it. */
  ciphertext: string;
  version: number;
}

export interface VaultTransit {
  readKey(key: string): Promise<TransitKeyState>;
  /** Rotates the key on the server and answers its state afterwards. */
  rotate(key: string): Promise<TransitKeyState>;
  encrypt(key: string, plaintext: Uint8Array): Promise<TransitEncrypted>;
  decrypt(key: string, ciphertext: string): Promise<Buffer>;
}

function refOf(key: string): TransitKeyRef {
  const ref = parseTransitKey(key);
  if (!ref)
    throw new ConfigError(`${JSON.stringify(key)} is not a transit key path <mount>/keys/<name>`);
  return ref;
}

function stateOf(data: Record<string, unknown>, operation: string): TransitKeyState {
  const latest = data.latest_version;
  const min = data.min_decryption_version;
  if (typeof latest !== 'number' || typeof min !== 'number') {
    throw new VaultTransitError(
      `${operation}: the answer has no latest_version / min_decryption_version`,
      {
        operation,
        status: 200,
      },
    );
  }
  return { latestVersion: latest, minDecryptionVersion: min };
}

export function createVaultTransit({
  address,
  tokenFile,
  namespace,
  timeoutMs = 10_000,
}: VaultTransitOptions): VaultTransit {
  const base = address.replace(/\/+$/, '');

  async function token(): Promise<string> {
    try {
      return (await readFile(tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new ConfigError(
        `the Vault token file ${tokenFile} cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        {
          cause: err,
        },
      );
    }
  }

  async function call(
    operation: string,
    method: 'GET' | 'POST',
    path: string,
    body?: unknown,
  ): Promise<Record<string, unknown>> {
    const headers: Record<string, string> = { 'X-Vault-Token': await token() };
    if (namespace) headers['X-Vault-Namespace'] = namespace;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(`${base}/v1/${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      throw noAnswer(operation, base, err);
    }
    const text = await res.text();
    if (!res.ok) {
      const retryAfter = Number(res.headers.get('retry-after'));
      throw new VaultTransitError(`${operation}: HTTP ${res.status}: ${vaultErrorText(text)}`, {
        operation,
        status: res.status,
        ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterSeconds: retryAfter } : {}),
      });
    }
    if (text.trim() === '') return {};
    const parsed = JSON.parse(text) as { data?: Record<string, unknown> };
    return parsed.data ?? {};
  }

  const keyPath = (r: TransitKeyRef) => `${r.mount}/keys/${r.name}`;

  return {
    async readKey(key) {
      const r = refOf(key);
      return stateOf(await call(`read ${key}`, 'GET', keyPath(r)), `read ${key}`);
    },
    async rotate(key) {
      const r = refOf(key);
      const data = await call(`rotate ${key}`, 'POST', `${keyPath(r)}/rotate`, {});
      // older servers answer a rotation with 204 and no body: read the key instead
      return 'latest_version' in data
        ? stateOf(data, `rotate ${key}`)
        : stateOf(await call(`read ${key}`, 'GET', keyPath(r)), `read ${key}`);
    },
    async encrypt(key, plaintext) {
      const r = refOf(key);
      const data = await call(`encrypt ${key}`, 'POST', `${r.mount}/encrypt/${r.name}`, {
        plaintext: Buffer.from(plaintext).toString('base64'),
      });
      const ciphertext = data.ciphertext;
      const version = data.key_version;
      if (typeof ciphertext !== 'string' || typeof version !== 'number') {
        throw new VaultTransitError(`encrypt ${key}: the answer has no ciphertext / key_version`, {
          operation: `encrypt ${key}`,
          status: 200,
        });
      }
      return { ciphertext, version };
    },
    async decrypt(key, ciphertext) {
      const r = refOf(key);
      const data = await call(`decrypt ${key}`, 'POST', `${r.mount}/decrypt/${r.name}`, {
        ciphertext,
      });
      if (typeof data.plaintext !== 'string') {
        throw new VaultTransitError(`decrypt ${key}: the answer has no plaintext`, {
          operation: `decrypt ${key}`,
          status: 200,
        });
      }
      return Buffer.from(data.plaintext, 'base64');
    },
  };
}
