// kubectl (the sandbox's own build) as the sandbox's administrator, for the Knative tier's
// installs and the status writes that Knative's controllers would make.

import { describeRun, run } from '../infra/manifests.ts';
import type { SandboxEnv } from '../sandbox/env-file.ts';

export function kubectl(env: SandboxEnv, args: string[], input?: string): string {
  const bin = env.binaries.kubectl;
  const context = env.apiservers[0]?.context;
  if (!bin || !context) throw new Error('the sandbox has no kubectl or no apiserver');
  const r = run(bin, ['--kubeconfig', env.kubeconfig, '--context', context, ...args], input);
  if (r.status !== 0) throw new Error(describeRun(`kubectl ${args.join(' ')}`, r));
  return r.stdout;
}

/** Writes `status` into an object's status subresource (a merge patch), as its controller would. */
export function writeStatus(
  env: SandboxEnv,
  resource: string,
  namespace: string,
  name: string,
  status: unknown,
): void {
  kubectl(env, [
    'patch',
    resource,
    name,
    '-n',
    namespace,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify({ status }),
  ]);
}
