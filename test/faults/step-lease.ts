// The provider's Lease, read from outside rekey: a reconcile step holds it for as long as it works
// and deletes it when it ends, so its holder says whether a step is working right now, whatever
// the step gate's own bookkeeping believes.
import { CoordinationV1Api } from '@kubernetes/client-node';
import { kubeConfig } from '../support/kube.ts';
import { STATE_NAMESPACE } from '../support/rekey-fixture.ts';
import type { SandboxEnv } from '../support/sandbox/env-file.ts';
import { waitFor } from '../support/sandbox/net.ts';

/** The holder of rekey's step Lease now (undefined: no step holds it). */
export async function stepLeaseHolder(env: SandboxEnv): Promise<string | undefined> {
  const leases = kubeConfig(env).makeApiClient(CoordinationV1Api);
  const { items } = await leases.listNamespacedLease({ namespace: STATE_NAMESPACE });
  return items.find((l) => l.metadata?.name?.startsWith('rekey-'))?.spec?.holderIdentity;
}

/** Resolves once no step holds the Lease (a step that outlived the gate's hold has ended). */
export async function untilNoStepWorks(env: SandboxEnv, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    'no rekey step to hold the Lease',
    async () => ((await stepLeaseHolder(env)) === undefined ? true : undefined),
    { timeoutMs, intervalMs: 100 },
  );
}
