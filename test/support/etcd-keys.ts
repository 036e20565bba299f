// Reads from etcd which key_id protects each object, through rekey's own inspector.
import { createEtcdInspector } from '../../shared/adapters/etcd/inspector.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';

/** name -> KMS v2 keyID (or the encryption kind when not kms-v2) for a namespace's objects. */
export async function keyIdsInEtcd(
  env: SandboxEnv,
  namespace: string,
  resource = 'secrets',
): Promise<Map<string, string>> {
  const inspector = createEtcdInspector({
    endpoints: [env.etcd.url],
    prefix: env.etcd.prefix,
    resources: [resource],
    namespace,
  });
  try {
    const out = new Map<string, string>();
    for await (const r of inspector.reports()) {
      out.set(r.name ?? r.key, r.kind === 'kms-v2' ? (r.keyID ?? '?') : r.kind);
    }
    return out;
  } finally {
    inspector.close();
  }
}

/** The per-(kind, provider, keyID) summary of every object of `resource` in the sandbox's etcd. */
export async function etcdSummary(env: SandboxEnv, resource = 'secrets') {
  const inspector = createEtcdInspector({
    endpoints: [env.etcd.url],
    prefix: env.etcd.prefix,
    resources: [resource],
  });
  try {
    return await inspector.summarise();
  } finally {
    inspector.close();
  }
}
