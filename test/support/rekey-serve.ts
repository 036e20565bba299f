// rekey's functions for an e2e test, all with the same settings, on the real Knative tier: a thin
// wrapper over deployFunctions (./deployed-functions.ts), which starts the tier (./knative/up.ts).
// The settings default to small slices, so that a migration of a few hundred objects spans several
// steps and the continuation events are exercised.
import { type Deployed, type DeployOptions, deployFunctions } from './deployed-functions.ts';
import type { SandboxEnv } from './sandbox/env-file.ts';

/** The event infra/'s PingSource sends (`rekey-tick`), as its Trigger filters it. */
export const PING = {
  type: 'dev.knative.sources.ping',
  source: '/apis/v1/namespaces/rekey-system/pingsources/rekey-tick',
  data: {},
};

const SMALL_SLICES = { REKEY_BUDGET_SECONDS: '1', REKEY_PAGE_SIZE: '10', REKEY_CONCURRENCY: '2' };

export async function serveRekey(
  env: SandboxEnv,
  settings: Record<string, string> = {},
  o: Omit<DeployOptions, 'settings'> = {},
): Promise<Deployed> {
  const all = { ...SMALL_SLICES, ...settings };
  return deployFunctions(env, {
    ...o,
    settings: { reconcile: all, 'kms-event': all, 'cluster-event': all, webhook: all },
  });
}
