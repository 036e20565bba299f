// Small helpers the sandbox tests share: seeding secrets and the no-op patch rekey relies on.
import { randomBytes } from 'node:crypto';
import type { CoreV1Api, V1Secret } from '@kubernetes/client-node';
import { mergePatch } from './kube.ts';

export async function ensureNamespace(api: CoreV1Api, name: string): Promise<void> {
  try {
    await api.createNamespace({ body: { metadata: { name } } });
  } catch (err) {
    if ((err as { code?: number }).code !== 409) throw err;
  }
}

/** Creates `count` secrets named `<prefix>-<i>` with random binary data; returns what was stored. */
export async function seedSecrets(
  api: CoreV1Api,
  namespace: string,
  { count, prefix = 's', bytes = 64 }: { count: number; prefix?: string; bytes?: number },
): Promise<V1Secret[]> {
  await ensureNamespace(api, namespace);
  const out: V1Secret[] = [];
  for (let i = 0; i < count; i++) {
    out.push(
      await api.createNamespacedSecret({
        namespace,
        body: {
          metadata: { name: `${prefix}-${i}` },
          data: { value: randomBytes(bytes).toString('base64') },
        },
      }),
    );
  }
  return out;
}

/**
 * The no-op update: a merge patch that changes nothing but carries uid and resourceVersion as
 * preconditions. The apiserver writes (and re-encrypts) only when the stored object is stale.
 */
export async function noOpPatch(
  api: CoreV1Api,
  s: { namespace: string; name: string; uid: string; resourceVersion: string },
): Promise<V1Secret> {
  return api.patchNamespacedSecret(
    {
      name: s.name,
      namespace: s.namespace,
      body: { metadata: { uid: s.uid, resourceVersion: s.resourceVersion } },
    },
    mergePatch,
  );
}

export function ref(s: V1Secret): {
  namespace: string;
  name: string;
  uid: string;
  resourceVersion: string;
} {
  const m = s.metadata;
  if (!m?.namespace || !m.name || !m.uid || !m.resourceVersion)
    throw new Error('secret lacks metadata');
  return { namespace: m.namespace, name: m.name, uid: m.uid, resourceVersion: m.resourceVersion };
}
