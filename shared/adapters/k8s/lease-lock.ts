// The Lock port on coordination.k8s.io Leases: at most one runner per provider. Every write
// carries the resourceVersion it read, so two runners racing for an expired Lease cannot both win.
//
// Whether another holder's Lease has expired is judged in the apiserver's time, never on this
// machine's clock: its renewTime plus its duration against the Date header of the very answer that
// returned it. A holder writes renewTime in that time too (the Date of the read just before its
// write), so one clock, the apiserver's, is on both sides of the comparison, whatever the skew
// between runners. The Date header counts whole seconds, rounded down: a renewTime written so is
// up to a second early, which the holder's own margin covers (it gives its Lease up 2 s before
// the TTL, shared/core/lease-session.ts), and a takeover judged so is up to a second late, which
// is safe. Without a readable Date header (not seen from a real apiserver) the local clock stands in.
import type { V1Lease } from '@kubernetes/client-node';
import type { Clock } from '../../ports/clock.ts';
import type { AcquireResult, Lock, LockHandle } from '../../ports/lock.ts';
import { type RestClient, retryAfterSecondsOf, serverTimeOf } from './rest-client.ts';
import { KubeApiError, microTime, parseAnswer, typedApi } from './typed-api.ts';

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

function expiry(l: V1Lease): number {
  const renew = l.spec?.renewTime ?? l.spec?.acquireTime;
  const secs = l.spec?.leaseDurationSeconds ?? 0;
  return renew ? new Date(renew).getTime() + secs * 1000 : 0;
}

/** A Lease as read (absent: none by that name), and the apiserver's time when it answered. */
interface ReadLease {
  lease: V1Lease | undefined;
  serverNow: number;
}

export function createLeaseLock(
  rest: RestClient,
  { namespace, clock }: { namespace: string; clock: Clock },
): Lock {
  const api = typedApi(rest).coordination;
  const leasePath = (name: string) =>
    `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases/${encodeURIComponent(name)}`;

  const read = async (name: string): Promise<ReadLease> => {
    const path = leasePath(name);
    const r = await rest.request({ path });
    const serverNow = serverTimeOf(r) ?? clock.now().getTime();
    if (r.status === 404) return { lease: undefined, serverNow };
    if (r.status < 200 || r.status >= 300) {
      throw new KubeApiError(r.status, r.body, `GET ${path}`, retryAfterSecondsOf(r));
    }
    return { lease: parseAnswer<V1Lease>(r.body, `GET ${path}`, r.status), serverNow };
  };

  const body = (
    name: string,
    holder: string,
    ttlMs: number,
    serverNow: number,
    rv?: string,
  ): V1Lease => {
    // Lease times are MicroTime: a plain Date serialises with milliseconds and is rejected
    const now = microTime(serverNow);
    return {
      metadata: {
        name,
        namespace,
        ...(rv ? { resourceVersion: rv } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'rekey' },
      },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: durationSeconds(ttlMs),
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
      const { lease: existing, serverNow } = await read(name);
      try {
        if (!existing) {
          const l = await api.createNamespacedLease({
            namespace,
            body: body(name, holder, ttlMs, serverNow),
          });
          return { acquired: true, handle: handle(l, name, holder) };
        }
        const held = existing.spec?.holderIdentity;
        if (held && held !== holder && expiry(existing) > serverNow) {
          return {
            acquired: false,
            heldBy: held,
            expiresAt: new Date(expiry(existing)).toISOString(),
          };
        }
        const l = await api.replaceNamespacedLease({
          name,
          namespace,
          body: body(name, holder, ttlMs, serverNow, existing.metadata?.resourceVersion),
        });
        return { acquired: true, handle: handle(l, name, holder) };
      } catch (err) {
        if (code(err) !== 409) throw err;
        // someone else created or took it between our read and write
        const { lease: now } = await read(name);
        return {
          acquired: false,
          heldBy: now?.spec?.holderIdentity ?? 'unknown',
          ...(now ? { expiresAt: new Date(expiry(now)).toISOString() } : {}),
        };
      }
    },
    async renew(h, ttlMs) {
      const { lease: l, serverNow } = await read(h.name);
      if (!l || l.spec?.holderIdentity !== h.holder) return undefined;
      try {
        const renewed = await api.replaceNamespacedLease({
          name: h.name,
          namespace,
          body: {
            ...l,
            spec: {
              ...l.spec,
              renewTime: microTime(serverNow),
              leaseDurationSeconds: durationSeconds(ttlMs),
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
        const { lease: l } = await read(h.name);
        if (!l || l.spec?.holderIdentity !== h.holder) return;
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

function durationSeconds(ttlMs: number): number {
  return Math.max(1, Math.ceil(ttlMs / 1000));
}
