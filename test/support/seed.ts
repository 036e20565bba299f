// Creates many secrets quickly (bounded concurrency) for the larger sandbox tests and benchmarks.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { ensureNamespace } from './secrets.ts';

export interface Seeded {
  namespace: string;
  name: string;
  value: string;
}

export async function seedMany(
  api: CoreV1Api,
  {
    namespaces,
    perNamespace,
    prefix = 'load',
    concurrency = 16,
    bytes = 48,
  }: {
    namespaces: number;
    perNamespace: number;
    prefix?: string;
    concurrency?: number;
    bytes?: number;
  },
): Promise<Seeded[]> {
  const limit = pLimit(concurrency);
  const out: Seeded[] = [];
  for (let n = 0; n < namespaces; n++) await ensureNamespace(api, `${prefix}-${n}`);
  await Promise.all(
    Array.from({ length: namespaces * perNamespace }, (_, i) =>
      limit(async () => {
        const namespace = `${prefix}-${i % namespaces}`;
        const name = `secret-${Math.floor(i / namespaces)}`;
        const value = randomBytes(bytes).toString('base64');
        await api.createNamespacedSecret({
          namespace,
          body: { metadata: { name }, data: { value } },
        });
        out.push({ namespace, name, value });
      }),
    ),
  );
  return out;
}
