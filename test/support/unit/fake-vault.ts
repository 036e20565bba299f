// A tiny in-process stand-in for the Vault / OpenBao transit HTTP API (unit tests only): one key,
// versions, rotate, min_decryption_version, and "encryption" that only tags the plaintext with its
// version. It checks the X-Vault-Token header and can be told to answer an error status.
import { createServer, type IncomingMessage, type Server } from 'node:http';

export interface FakeVault {
  address: string;
  /** Requests seen: method, path and the token header. */
  seen: { method: string; path: string; token: string | undefined }[];
  latest: number;
  minDecryption: number;
  /** Answer every request with this status (and a Vault error body) until cleared. */
  failWith?: { status: number; retryAfter?: string } | undefined;
  close(): Promise<void>;
}

async function bodyOf(req: IncomingMessage): Promise<Record<string, unknown>> {
  let s = '';
  for await (const c of req) s += c;
  return s ? (JSON.parse(s) as Record<string, unknown>) : {};
}

export async function startFakeVault({
  token,
  mount = 'transit',
  name = 'kms',
}: {
  token: string;
  mount?: string;
  name?: string;
}): Promise<FakeVault> {
  const state: Omit<FakeVault, 'address' | 'close'> = { seen: [], latest: 1, minDecryption: 1 };
  const keyState = () => ({
    latest_version: state.latest,
    min_decryption_version: state.minDecryption,
    keys: Object.fromEntries(Array.from({ length: state.latest }, (_, i) => [String(i + 1), 0])),
  });
  const server: Server = createServer(async (req, res) => {
    const path = (req.url ?? '').replace(/^\/v1\//, '');
    const sent = req.headers['x-vault-token'];
    state.seen.push({
      method: req.method ?? '',
      path,
      token: typeof sent === 'string' ? sent : undefined,
    });
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (state.failWith) {
      const h: Record<string, string> = state.failWith.retryAfter
        ? { 'retry-after': state.failWith.retryAfter }
        : {};
      return answer(state.failWith.status, { errors: ['injected failure'] }, h);
    }
    if (sent !== token) return answer(403, { errors: ['permission denied'] });
    const body = await bodyOf(req);
    if (req.method === 'GET' && path === `${mount}/keys/${name}`)
      return answer(200, { data: keyState() });
    if (req.method === 'POST' && path === `${mount}/keys/${name}/rotate`) {
      state.latest++;
      return answer(200, { data: keyState() });
    }
    if (req.method === 'POST' && path === `${mount}/encrypt/${name}`) {
      const ciphertext = `vault:v${state.latest}:${String(body.plaintext)}`;
      return answer(200, { data: { ciphertext, key_version: state.latest } });
    }
    if (req.method === 'POST' && path === `${mount}/decrypt/${name}`) {
      const m = /^vault:v(\d+):(.*)$/.exec(String(body.ciphertext));
      if (!m) return answer(400, { errors: ['invalid ciphertext'] });
      if (Number(m[1]) < state.minDecryption) {
        return answer(400, {
          errors: ['ciphertext or signature version is disallowed by policy (too old)'],
        });
      }
      return answer(200, { data: { plaintext: m[2] } });
    }
    return answer(404, { errors: [] });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const fake = state as FakeVault;
  fake.address = `http://127.0.0.1:${port}`;
  fake.close = () => new Promise((resolve) => server.close(() => resolve()));
  return fake;
}
