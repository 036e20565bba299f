// The identity of the "other clients" whose latency the bench watches: a ServiceAccount allowed
// to read and update secrets in its own namespace only. Not the sandbox admin: system:masters is
// exempt from API Priority and Fairness, so an admin client would not show what rekey's own
// priority level does (or fails to do) for everybody else.
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { kubeConfig } from '../support/kube.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';

const NAME = 'bench-client';

/** Creates the ServiceAccount and its Role in `namespace`; returns an API client acting as it. */
export async function clientApi(env: SandboxEnv, namespace: string): Promise<CoreV1Api> {
  const admin = kubeConfig(env);
  const core = admin.makeApiClient(CoreV1Api);
  const rbac = admin.makeApiClient(RbacAuthorizationV1Api);
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: NAME } } });
  await rbac.createNamespacedRole({
    namespace,
    body: {
      metadata: { name: NAME },
      rules: [{ apiGroups: [''], resources: ['secrets'], verbs: ['get', 'patch', 'update'] }],
    },
  });
  await rbac.createNamespacedRoleBinding({
    namespace,
    body: {
      metadata: { name: NAME },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME },
      subjects: [{ kind: 'ServiceAccount', name: NAME, namespace }],
    },
  });
  const token = await core.createNamespacedServiceAccountToken({
    name: NAME,
    namespace,
    body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
  });
  const cluster = admin.getCurrentCluster();
  if (!cluster || !token.status?.token) throw new Error('no cluster or no token for the clients');
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [{ name: NAME, token: token.status.token }],
    contexts: [{ name: NAME, cluster: cluster.name, user: NAME }],
    currentContext: NAME,
  });
  return kc.makeApiClient(CoreV1Api);
}
