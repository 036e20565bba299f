// The provider's Lease, read from outside rekey: a reconcile step holds it for as long as it works
// and deletes it when it ends, so an unexpired holder says a step is working right now. A step
// that ended without deleting it (killed, cut off) leaves it to expire: expired, it holds nothing.
// This catches a step the step gate lost track of once that step holds the Lease, not before.
import type { CoordinationV1Api } from '@kubernetes/client-node';
import { providerSegment } from '../../shared/domain/revision.ts';
import { STATE_NAMESPACE } from '../support/rekey-fixture.ts';
import { waitFor } from '../support/sandbox/net.ts';

/** The holder of `provider`'s step Lease now, unless it has expired (undefined: none holds it). */
export async function stepLeaseHolder(
  leases: CoordinationV1Api,
  provider: string,
): Promise<string | undefined> {
  const name = `rekey-${providerSegment(provider)}`;
  const { items } = await leases.listNamespacedLease({ namespace: STATE_NAMESPACE });
  const spec = items.find((l) => l.metadata?.name === name)?.spec;
  const renewed = spec?.renewTime ? new Date(spec.renewTime).getTime() : 0;
  const expiresAt = renewed + (spec?.leaseDurationSeconds ?? 0) * 1000;
  return spec?.holderIdentity && expiresAt > Date.now() ? spec.holderIdentity : undefined;
}

/** Resolves once no step holds `provider`'s Lease (a step the gate lost track of has ended). */
export async function untilNoStepWorks(
  leases: CoordinationV1Api,
  provider: string,
  timeoutMs = 60_000,
): Promise<void> {
  let holder: string | undefined;
  await waitFor(
    'no rekey step to hold the Lease',
    async () => {
      holder = await stepLeaseHolder(leases, provider);
      return holder === undefined ? true : undefined;
    },
    { timeoutMs, intervalMs: 100 },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (held by ${holder})`);
  });
}
