// Node agents in write mode as an install runs them: with the key-id reporter's ServiceAccount and
// the grant and admission policy of infra/components/config-write (built with kustomize, created
// as built), each on its own node's apiserver, instead of as the sandbox's admin.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CoreV1Api,
  KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import {
  CONFIG_REVISION_SECRET_TYPE,
  configRevisionName,
} from '../../shared/adapters/k8s/config-revision-store.ts';
import { serviceAccountKubeConfig } from './deployed-functions.ts';
import { buildTargets, kustomize } from './infra/manifests.ts';
import { kubeConfig } from './kube.ts';
import { STATE_NAMESPACE } from './rekey-fixture.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';
import { waitFor } from './sandbox/net.ts';

export const REPORTER_SERVICE_ACCOUNT = 'rekey-key-id-reporter';
/** The ValidatingAdmissionPolicy (and its binding) of components/config-write. */
export const CONFIG_WRITE_POLICY = 'rekey-config-write-found-only';
const GRANT = 'rekey-config-write';

// created in this order: a binding after what it binds
const KIND_ORDER = [
  'Role',
  'RoleBinding',
  'ValidatingAdmissionPolicy',
  'ValidatingAdmissionPolicyBinding',
];

/**
 * Creates the Role, RoleBinding and admission policy of components/config-write exactly as
 * kustomize builds them, and waits until every apiserver enforces the policy.
 */
export async function installConfigWriteGrant(env: SandboxEnv): Promise<void> {
  const built = buildTargets();
  try {
    const t = built.targets.find((x) => x.name === 'base + components/config-write');
    assert.ok(t, 'the config-write component is built onto the base');
    const grant = kustomize(env.binaries.kubectl as string, t.dir)
      .objects.filter((o) => [GRANT, CONFIG_WRITE_POLICY].includes(o.metadata?.name ?? ''))
      .sort((a, b) => KIND_ORDER.indexOf(a.kind ?? '') - KIND_ORDER.indexOf(b.kind ?? ''));
    assert.deepEqual(
      grant.map((o) => o.kind),
      KIND_ORDER,
    );
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
  await waitForPolicy(env);
}

/** The reporter's ServiceAccount on each apiserver, by a token valid for `seconds`. */
async function agentConfigs(env: SandboxEnv, seconds: number): Promise<KubeConfig[]> {
  const sa = await serviceAccountKubeConfig(env, REPORTER_SERVICE_ACCOUNT, seconds);
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
    return kc;
  });
}

/** The reporter's ServiceAccount on each apiserver (a short-lived token), to talk to it directly. */
export async function agentApis(env: SandboxEnv): Promise<CoreV1Api[]> {
  return (await agentConfigs(env, 600)).map((kc) => kc.makeApiClient(CoreV1Api));
}

/** What the agent could create but the policy refuses: a configuration revision rolling out. */
export function rolloutRevisionByTheAgent(n = 2) {
  return {
    metadata: {
      name: configRevisionName(n),
      annotations: { 'rekey.dev/config-stage': 'write', 'rekey.dev/config-state': 'rolling-out' },
    },
    type: CONFIG_REVISION_SECRET_TYPE,
  };
}

/** Whether `err` is an apiserver's refusal by the config-write admission policy. */
export function refusedByPolicy(err: unknown): boolean {
  const e = err as { code?: number; body?: unknown };
  return e.code === 403 && String(e.body ?? '').includes(CONFIG_WRITE_POLICY);
}

/**
 * Every apiserver enforces the policy once it refuses (in a dry run) what it must refuse; a policy
 * takes effect on each apiserver on its own, shortly after it is created.
 */
async function waitForPolicy(env: SandboxEnv): Promise<void> {
  for (const [i, api] of (await agentApis(env)).entries()) {
    await waitFor(`apiserver ${i} to enforce ${CONFIG_WRITE_POLICY}`, async () => {
      try {
        await api.createNamespacedSecret({
          namespace: STATE_NAMESPACE,
          body: rolloutRevisionByTheAgent(),
          dryRun: 'All',
        });
        return undefined;
      } catch (err) {
        if (refusedByPolicy(err)) return true;
        // RBAC not in force yet on this apiserver: refused, but not by the policy
        if ((err as { code?: number }).code === 403) return undefined;
        throw err;
      }
    });
  }
}

/**
 * One kubeconfig file per apiserver, each with a token of the reporter's ServiceAccount, for the
 * agent on that apiserver's node.
 */
export async function agentKubeconfigs(env: SandboxEnv, dir: string): Promise<string[]> {
  // valid for longer than the longest switch test may run
  return (await agentConfigs(env, 4 * 3600)).map((kc, i) => {
    const file = join(dir, `kubeconfig-agent-sa-${i}`);
    writeFileSync(file, kc.exportConfig(), { mode: 0o600 });
    return file;
  });
}
