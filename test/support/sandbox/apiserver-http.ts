// Plain HTTPS requests to one sandbox apiserver (metrics, readyz), verified against its CA.
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import type { ApiserverEnv } from './env-file.ts';

export interface HttpResult {
  status: number;
  body: string;
}

export function apiserverGet(
  apiserver: Pick<ApiserverEnv, 'url' | 'caFile'>,
  path: string,
  token: string,
  { timeoutMs = 10_000 } = {},
): Promise<HttpResult> {
  const ca = readFileSync(apiserver.caFile);
  return new Promise((resolve, reject) => {
    const req = request(
      new URL(path, apiserver.url),
      { method: 'GET', ca, headers: { authorization: `Bearer ${token}` }, timeout: timeoutMs },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}
