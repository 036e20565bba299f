// Kubernetes API clients for tests, built from a sandbox's kubeconfig.
import {
  CoordinationV1Api,
  CoreV1Api,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { type Connection, connectionFromKubeconfig } from '../../shared/adapters/k8s/connection.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';

export interface ClientOptions {
  /** Which apiserver (index in env.apiservers); default the first. */
  apiserver?: number;
  user?: 'admin' | 'rekey';
}

export function kubeConfig(
  env: SandboxEnv,
  { apiserver = 0, user = 'admin' }: ClientOptions = {},
): KubeConfig {
  const a = env.apiservers[apiserver];
  if (!a) throw new Error(`sandbox has no apiserver ${apiserver}`);
  const kc = new KubeConfig();
  kc.loadFromFile(env.kubeconfig);
  kc.setCurrentContext(user === 'admin' ? a.context : `${user}@${a.context}`);
  return kc;
}

/** rekey's own Connection (shared/adapters/k8s/connection.ts) for the same identity. */
export function connection(env: SandboxEnv, opts: ClientOptions = {}): Connection {
  return connectionFromKubeconfig(kubeConfig(env, opts).exportConfig());
}

export function coreApi(env: SandboxEnv, opts: ClientOptions = {}): CoreV1Api {
  return kubeConfig(env, opts).makeApiClient(CoreV1Api);
}

export function coordinationApi(env: SandboxEnv, opts: ClientOptions = {}): CoordinationV1Api {
  return kubeConfig(env, opts).makeApiClient(CoordinationV1Api);
}

/** Options for a JSON merge patch (client-node sends JSON Patch by default). */
export const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
