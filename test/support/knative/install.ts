// Installs what a Knative Eventing install brings and its data-plane programs read: the
// knative-eventing namespace, Eventing's CRDs and ConfigMaps (from the pinned module's own
// config/), the InMemoryChannel CRD, and Serving's CRDs (rekey's functions are Knative Services).
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { KNATIVE_CRDS_DIR, REPO_DIR } from '../infra/manifests.ts';
import type { SandboxEnv } from '../sandbox/env-file.ts';
import { kubectl } from './kubectl.ts';

export const KNATIVE_SYSTEM_NAMESPACE = 'knative-eventing';

const yamlIn = (dir: string, prefix = '') =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.yaml') && f.startsWith(prefix))
    .sort()
    .map((f) => join(dir, f));

/**
 * The shared data folder of Knative CRDs next to the checkout (its Serving CRDs); a git worktree
 * sits one or more levels deeper than the main checkout, so look upwards.
 */
export function knativeCrdsDir(): string {
  if (existsSync(KNATIVE_CRDS_DIR)) return KNATIVE_CRDS_DIR;
  for (let d = dirname(REPO_DIR); d !== dirname(d); d = dirname(d)) {
    const candidate = join(d, 'shared/data/knative-crds');
    if (existsSync(candidate)) return candidate;
  }
  throw new Error(`no Knative CRDs folder at ${KNATIVE_CRDS_DIR} or above the checkout`);
}

/** The files installed, in order: namespace, CRDs, ConfigMaps. */
export function knativeInstallFiles(eventingDir: string): string[] {
  return [
    join(eventingDir, 'config/core/100-namespace.yaml'),
    ...yamlIn(join(eventingDir, 'config/core/resources')),
    join(eventingDir, 'config/channels/in-memory-channel/resources/in-memory-channel.yaml'),
    ...yamlIn(knativeCrdsDir(), 'serving-'),
    ...yamlIn(join(eventingDir, 'config/core/configmaps')),
  ];
}

export function installKnative(env: SandboxEnv, eventingDir: string): void {
  const files = knativeInstallFiles(eventingDir);
  kubectl(env, ['apply', '--server-side', ...files.flatMap((f) => ['-f', f])]);
  kubectl(env, ['wait', '--for', 'condition=established', 'crd', '--all', '--timeout=120s']);
}
