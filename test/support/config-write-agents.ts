// Node agents in write mode as an install runs them: with the key-id reporter's ServiceAccount and
// the grant of infra/components/config-write (built with kustomize, created as built), each on its
// own node's apiserver, instead of as the sandbox's admin.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { serviceAccountKubeConfig } from './deployed-functions.ts';
import { buildTargets, kustomize } from './infra/manifests.ts';
import { kubeConfig } from './kube.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';

export const REPORTER_SERVICE_ACCOUNT = 'rekey-key-id-reporter';

/** Creates the Role and RoleBinding of components/config-write exactly as kustomize builds them. */
export async function installConfigWriteGrant(env: SandboxEnv): Promise<void> {
  const built = buildTargets();
  try {
    const t = built.targets.find((x) => x.name === 'base + components/config-write');
    assert.ok(t, 'the config-write component is built onto the base');
    const grant = kustomize(env.binaries.kubectl as string, t.dir).objects.filter(
      (o) => o.metadata?.name === 'rekey-config-write',
    );
    assert.deepEqual(grant.map((o) => o.kind).sort(), ['Role', 'RoleBinding']);
    const api = KubernetesObjectApi.makeApiClient(kubeConfig(env));
    for (const o of grant) {
      try {
        await api.create(o as KubernetesObject);
      } catch (err) {
        if ((err as { code?: number }).code !== 409) throw err;
      }
    }
  } finally {
    built.cleanup();
  }
}

/**
 * One kubeconfig file per apiserver, each with a token of the reporter's ServiceAccount, for the
 * agent on that apiserver's node.
 */
export async function agentKubeconfigs(env: SandboxEnv, dir: string): Promise<string[]> {
  // valid for longer than the longest switch test may run
  const sa = await serviceAccountKubeConfig(env, REPORTER_SERVICE_ACCOUNT, 4 * 3600);
  const user = sa.getCurrentUser();
  assert.ok(user, 'a token for the reporter ServiceAccount');
  return env.apiservers.map((_, i) => {
    const cluster = kubeConfig(env, { apiserver: i }).getCurrentCluster();
    assert.ok(cluster);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [cluster],
      users: [user],
      contexts: [{ name: 'agent', cluster: cluster.name, user: user.name }],
      currentContext: 'agent',
    });
    const file = join(dir, `kubeconfig-agent-sa-${i}`);
    writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
    return file;
  });
}
