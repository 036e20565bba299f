// The Lock port on coordination.k8s.io Leases: at most one runner per provider. Every write
// carries the resourceVersion it read, so two runners racing for an expired Lease cannot both win.
import type { V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../../ports/clock.ts';
import type { AcquireResult, Lock, LockHandle } from '../../ports/lock.ts';
import { type CoordinationApi, microTime } from './typed-api.ts';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function expiry(l: V1Lease): number {
  const renew = l.spec?.renewTime ?? l.spec?.acquireTime;
  const secs = l.spec?.leaseDurationSeconds ?? 0;
  return renew ? new Date(renew).getTime() + secs * 1000 : 0;
}

export function createLeaseLock(
  api: Pick<
    CoordinationApi,
    | 'readNamespacedLease'
    | 'createNamespacedLease'
    | 'replaceNamespacedLease'
    | 'deleteNamespacedLease'
  >,
  { namespace, clock }: { namespace: string; clock: Clock },
): Lock {
  const body = (name: string, holder: string, ttlMs: number, rv?: string): V1Lease => {
    // Lease times are MicroTime: a plain Date serialises with milliseconds and is rejected
    const now = microTime(clock.now().getTime());
    return {
      metadata: {
        name,
        namespace,
        ...(rv ? { resourceVersion: rv } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'rekey' },
      },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
        acquireTime: now,
        renewTime: now,
      },
    };
  };
  const handle = (l: V1Lease, name: string, holder: string): LockHandle => ({
    name,
    holder,
    expiresAt: new Date(expiry(l)).toISOString(),
  });

  return {
    async tryAcquire(name, holder, ttlMs): Promise<AcquireResult> {
      let existing: V1Lease | undefined;
      try {
        existing = await api.readNamespacedLease({ name, namespace });
      } catch (err) {
        if (code(err) !== 404) throw err;
      }
      try {
        if (!existing) {
          const l = await api.createNamespacedLease({ namespace, body: body(name, holder, ttlMs) });
          return { acquired: true, handle: handle(l, name, holder) };
        }
        const held = existing.spec?.holderIdentity;
        if (held && held !== holder && expiry(existing) > clock.now().getTime()) {
          return {
            acquired: false,
            heldBy: held,
            expiresAt: new Date(expiry(existing)).toISOString(),
          };
        }
        const l = await api.replaceNamespacedLease({
          name,
          namespace,
          body: body(name, holder, ttlMs, existing.metadata?.resourceVersion),
        });
        return { acquired: true, handle: handle(l, name, holder) };
      } catch (err) {
        if (code(err) !== 409) throw err;
        // someone else created or took it between our read and write
        const now = await api.readNamespacedLease({ name, namespace });
        return {
          acquired: false,
          heldBy: now.spec?.holderIdentity ?? 'unknown',
          expiresAt: new Date(expiry(now)).toISOString(),
        };
      }
    },
    async renew(h, ttlMs) {
      const l = await api.readNamespacedLease({ name: h.name, namespace });
      if (l.spec?.holderIdentity !== h.holder) return undefined;
      try {
        const renewed = await api.replaceNamespacedLease({
          name: h.name,
          namespace,
          body: {
            ...l,
            spec: {
              ...l.spec,
              renewTime: microTime(clock.now().getTime()),
              leaseDurationSeconds: Math.max(1, Math.ceil(ttlMs / 1000)),
            },
          },
        });
        return handle(renewed, h.name, h.holder);
      } catch (err) {
        if (code(err) === 409) return undefined;
        throw err;
      }
    },
    async release(h) {
      try {
        const l = await api.readNamespacedLease({ name: h.name, namespace });
        if (l.spec?.holderIdentity !== h.holder) return;
        await api.deleteNamespacedLease({
          name: h.name,
          namespace,
          body: { preconditions: { resourceVersion: l.metadata?.resourceVersion ?? '' } },
        });
      } catch (err) {
        if (code(err) !== 404 && code(err) !== 409) throw err;
      }
    },
  };
}
