// rekey's infra/ through its sandbox overlay (infra/overlays/sandbox), built with kubectl's
// kustomize and created in the sandbox: the Knative Services, the Broker, the Triggers (every
// filter and delivery policy as deployed), the PingSource, the ApiServerSource, the SinkBinding,
// the EventPolicies and the hashed settings ConfigMap. The core objects (namespace,
// ServiceAccounts, RBAC) are already there from the sandbox's `up`, with its test users bound.
import { fileURLToPath } from 'node:url';
import {
  type KubeConfig,
  type KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node';
import { kustomize, type Manifest } from '../infra/manifests.ts';
import type { SandboxEnv } from '../sandbox/env-file.ts';

export const SANDBOX_OVERLAY = fileURLToPath(
  new URL('../../../infra/overlays/sandbox/', import.meta.url),
);

/** Kinds the sandbox runs itself (one key-id reporter per apiserver, started by `up`). */
const RUN_BY_THE_SANDBOX = new Set(['DaemonSet']);

export function renderSandboxOverlay(env: SandboxEnv, dir = SANDBOX_OVERLAY): Manifest[] {
  const bin = env.binaries.kubectl;
  if (!bin) throw new Error('the sandbox has no kubectl');
  return kustomize(bin, dir).objects;
}

/** Creates every object of the build (an existing one is left as it is). */
export async function createInfra(kc: KubeConfig, objects: readonly Manifest[]): Promise<void> {
  const api = KubernetesObjectApi.makeApiClient(kc);
  for (const o of objects) {
    if (!o.kind || RUN_BY_THE_SANDBOX.has(o.kind)) continue;
    try {
      await api.create(o as KubernetesObject);
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
    }
  }
}

/** The settings ConfigMap's literals (its name carries a content hash). */
export function settingsOf(objects: readonly Manifest[]): Record<string, string> {
  const cm = objects.find(
    (o) => o.kind === 'ConfigMap' && o.metadata?.name?.startsWith('rekey-settings'),
  );
  if (!cm?.data) throw new Error('the overlay has no rekey-settings ConfigMap');
  return cm.data;
}
