// Applies infra/base (namespace, ServiceAccounts, least-privilege RBAC) to a sandbox, binding
// the sandbox's token identities where a cluster binds ServiceAccounts, so the sandbox exercises
// exactly the roles a real install grants.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
  loadAllYaml,
} from '@kubernetes/client-node';

const INFRA_BASE = fileURLToPath(new URL('../../../infra/base/', import.meta.url));

/** ServiceAccount -> the sandbox user that stands for it. */
const USER_FOR_SA: Record<string, string> = {
  'rekey-reconcile': 'rekey',
  'rekey-key-id-reporter': 'key-id-reporter',
};

type Subject = { kind: string; name: string; namespace?: string };

function withSandboxUsers(obj: KubernetesObject & { subjects?: Subject[] }): KubernetesObject {
  if (!obj.kind?.endsWith('Binding') || !obj.subjects) return obj;
  const users = obj.subjects
    .filter((s) => s.kind === 'ServiceAccount' && USER_FOR_SA[s.name])
    .map((s) => ({
      kind: 'User',
      name: USER_FOR_SA[s.name] as string,
      apiGroup: 'rbac.authorization.k8s.io',
    }));
  return { ...obj, subjects: [...obj.subjects, ...users] } as KubernetesObject;
}

/** Creates every object of infra/base (namespace first); already existing objects are left as they are. */
export async function installInfraBase(kc: KubeConfig): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  const files = readdirSync(INFRA_BASE)
    .filter((f) => f.endsWith('.yaml'))
    .sort((a, b) =>
      a === 'namespace.yaml' ? -1 : b === 'namespace.yaml' ? 1 : a.localeCompare(b),
    );
  for (const f of files) {
    for (const doc of loadAllYaml(
      readFileSync(join(INFRA_BASE, f), 'utf8'),
    ) as KubernetesObject[]) {
      if (!doc?.kind) continue;
      try {
        await api.create(withSandboxUsers(doc));
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  }
}
