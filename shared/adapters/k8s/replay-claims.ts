// The ReplayClaims port on coordination.k8s.io Leases, so every replica of the webhook function
// (and every process after a scale to zero) shares one record per `webhook-id`. One Lease per id,
// `rekey-webhook-<first 40 hex digits of sha256(id)>` in the replay namespace
// (REKEY_REPLAY_NAMESPACE, else the state namespace; infra/ gives the claims a namespace of their
// own, the only one where the webhook's identity holds Lease verbs, away from the runner Lease):
// - create is the compare-and-swap: 409 means another replica claimed the id first;
// - while its command runs, the holder renews the Lease (every third of its duration), so a claim
//   whose renewTime + leaseDurationSeconds has passed belongs to a holder that died and may be
//   taken over, by an update carrying the resourceVersion read (two takers cannot both win);
// - a finished command's answer is kept in the `rekey.dev/webhook-answer` annotation (small,
//   non-secret JSON) until `rekey.dev/webhook-expires`; an expired claim is replaced like a stale
//   one; a failed command's claim is deleted, with its resourceVersion as precondition;
// - claims this process finished are deleted by name once expired, on its next claim; those of a
//   process that stopped first stay until the same id comes back, or until deleted by their label
//   `rekey.dev/webhook-claim=true` (nothing here lists Leases).
// Requests used: create, get, update and delete of `leases` in one namespace. Times are this
// process's clock: replicas of one cluster agree within the margins used (seconds against minutes).
import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import { type Clock, systemClock } from '../../ports/clock.ts';
import type {
  ClaimAttempt,
  ClaimTimes,
  RecordedAnswer,
  ReplayClaim,
  ReplayClaims,
} from '../../ports/replay-claims.ts';
import { type RestClient, retryAfterSecondsOf } from './rest-client.ts';
import { KubeApiError, microTime, parseAnswer } from './typed-api.ts';

export const CLAIM_LABEL = 'rekey.dev/webhook-claim';
const STATE = 'rekey.dev/webhook-state';
const EXPIRES = 'rekey.dev/webhook-expires';
const ANSWER = 'rekey.dev/webhook-answer';

/** The Lease that claims `id`: the id is the sender's, so only its hash names the object. */
export function claimLeaseName(id: string): string {
  return `rekey-webhook-${createHash('sha256').update(id).digest('hex').slice(0, 40)}`;
}

interface LeaseClaim extends ReplayClaim {
  readonly name: string;
  rv: string;
  readonly times: ClaimTimes;
  readonly since: Date;
  timer: NodeJS.Timeout | undefined;
  /** Renewals, completion and release run one after the other. */
  chain: Promise<void>;
  ended: boolean;
}

/** Options of {@link createLeaseReplayClaims}. */
export interface LeaseReplayClaimsOptions {
  namespace: string;
  /** Who holds a claim (the replica). */
  holder: string;
  clock?: Clock;
  /** Finished claims remembered for deletion once expired (default 10,000). */
  maxRemembered?: number;
  /**
   * Recording a finished command's answer is tried this many times (default 5), the holder still
   * renewing the claim in between: a claim left to go stale before its answer is written could be
   * taken over by a replay, and the command would run again.
   */
  recordAttempts?: number;
  /** The first wait between those attempts, doubled each time (default 1 s). */
  recordRetryMs?: number;
}

type Written = { lease: V1Lease } | { conflict: true };

export function createLeaseReplayClaims(
  rest: RestClient,
  {
    namespace,
    holder,
    clock = systemClock,
    maxRemembered = 10_000,
    recordAttempts = 5,
    recordRetryMs = 1_000,
  }: LeaseReplayClaimsOptions,
): ReplayClaims {
  const base = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`;
  const one = (name: string) => `${base}/${encodeURIComponent(name)}`;
  /** Claims this process finished: name => resourceVersion and expiry, deleted once expired. */
  const finished = new Map<string, { rv: string; expiresAt: number }>();

  const fail = (
    status: number,
    body: string,
    what: string,
    res: Parameters<typeof retryAfterSecondsOf>[0],
  ) => new KubeApiError(status, body, what, retryAfterSecondsOf(res));

  async function write(method: 'POST' | 'PUT', name: string, body: V1Lease): Promise<Written> {
    const path = method === 'POST' ? base : one(name);
    const r = await rest.request({ method, path, body });
    if (r.status === 409 || (method === 'PUT' && r.status === 404)) return { conflict: true };
    if (r.status < 200 || r.status >= 300) throw fail(r.status, r.body, `${method} ${path}`, r);
    return { lease: parseAnswer<V1Lease>(r.body, `${method} ${path}`, r.status) };
  }

  async function read(name: string): Promise<V1Lease | undefined> {
    const path = one(name);
    const r = await rest.request({ path });
    if (r.status === 404) return undefined;
    if (r.status < 200 || r.status >= 300) throw fail(r.status, r.body, `GET ${path}`, r);
    return parseAnswer<V1Lease>(r.body, `GET ${path}`, r.status);
  }

  async function remove(name: string, rv: string): Promise<void> {
    const path = one(name);
    const r = await rest.request({
      method: 'DELETE',
      path,
      body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { resourceVersion: rv } },
    });
    // gone already, or changed since (taken over): either way not ours to delete
    if (r.status === 404 || r.status === 409) return;
    if (r.status < 200 || r.status >= 300) throw fail(r.status, r.body, `DELETE ${path}`, r);
  }

  function lease(
    name: string,
    {
      times,
      since,
      rv,
      answer,
    }: { times: ClaimTimes; since: Date; rv?: string; answer?: RecordedAnswer },
  ): V1Lease {
    return {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: {
        name,
        namespace,
        ...(rv ? { resourceVersion: rv } : {}),
        labels: { 'app.kubernetes.io/managed-by': 'rekey', [CLAIM_LABEL]: 'true' },
        annotations: {
          [STATE]: answer ? 'done' : 'running',
          [EXPIRES]: times.expiresAt.toISOString(),
          ...(answer ? { [ANSWER]: JSON.stringify(answer) } : {}),
        },
      },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: Math.max(1, Math.ceil(times.staleAfterMs / 1000)),
        acquireTime: microTime(since.getTime()),
        renewTime: microTime(clock.now().getTime()),
      },
    };
  }

  /** What a Lease read says about its id now. */
  function judge(l: V1Lease, now: number): ClaimAttempt | 'lapsed' {
    const a = l.metadata?.annotations ?? {};
    const expires = Date.parse(a[EXPIRES] ?? '');
    if (!(expires > now)) return 'lapsed';
    if (a[STATE] === 'done') {
      try {
        return { kind: 'done', answer: JSON.parse(a[ANSWER] ?? '') as RecordedAnswer };
      } catch {
        return { kind: 'done', answer: { status: 200, body: undefined } };
      }
    }
    const renewed = new Date(l.spec?.renewTime ?? l.spec?.acquireTime ?? 0).getTime();
    const staleAt = renewed + (l.spec?.leaseDurationSeconds ?? 0) * 1000;
    if (staleAt <= now) return 'lapsed';
    return {
      kind: 'running',
      holder: l.spec?.holderIdentity ?? 'unknown',
      since: new Date(l.spec?.acquireTime ?? renewed),
    };
  }

  function held(
    id: string,
    name: string,
    written: V1Lease,
    times: ClaimTimes,
    since: Date,
  ): LeaseClaim {
    const claim: LeaseClaim = {
      id,
      name,
      rv: written.metadata?.resourceVersion ?? '',
      times,
      since,
      timer: undefined,
      chain: Promise.resolve(),
      ended: false,
    };
    const renew = async () => {
      if (claim.ended) return;
      const w = await write('PUT', name, lease(name, { times, since, rv: claim.rv }));
      if ('lease' in w) claim.rv = w.lease.metadata?.resourceVersion ?? claim.rv;
      else stop(claim); // taken over: it is another holder's now
    };
    claim.timer = setInterval(
      () => {
        // a failed renewal is tried again on the next tick; the claim is stale only after three
        claim.chain = claim.chain.then(renew).catch(() => undefined);
      },
      Math.max(1_000, Math.floor(times.staleAfterMs / 3)),
    );
    claim.timer.unref();
    return claim;
  }

  function stop(claim: LeaseClaim): void {
    claim.ended = true;
    clearInterval(claim.timer);
  }

  async function sweep(now: number): Promise<void> {
    for (const [name, { rv, expiresAt }] of finished) {
      if (expiresAt > now) continue;
      finished.delete(name);
      await remove(name, rv).catch(() => undefined);
    }
  }

  return {
    async claim(id, times) {
      await sweep(clock.now().getTime());
      const name = claimLeaseName(id);
      // a few rounds: each one lost means another replica changed the Lease in between
      for (let round = 0; round < 4; round++) {
        const since = clock.now();
        const created = await write('POST', name, lease(name, { times, since }));
        if ('lease' in created) {
          return { kind: 'claimed', claim: held(id, name, created.lease, times, since) };
        }
        const existing = await read(name);
        if (!existing) continue; // released in between: create again
        const verdict = judge(existing, clock.now().getTime());
        if (verdict !== 'lapsed') return verdict;
        // expired, or its holder stopped renewing: take it over, only as the version just read
        const rv = existing.metadata?.resourceVersion ?? '';
        const taken = await write('PUT', name, lease(name, { times, since, rv }));
        if ('lease' in taken) {
          return { kind: 'claimed', claim: held(id, name, taken.lease, times, since) };
        }
      }
      // the Lease keeps changing under us: someone else is busy with this id
      return { kind: 'running', holder: 'unknown', since: clock.now() };
    },

    async complete(claim, answer) {
      const c = claim as LeaseClaim;
      if (c.ended) return;
      const record = () =>
        write('PUT', c.name, lease(c.name, { times: c.times, since: c.since, rv: c.rv, answer }));
      let w: Written | undefined;
      let failure: unknown;
      for (let attempt = 0; attempt < recordAttempts && !c.ended; attempt++) {
        if (attempt > 0) {
          await new Promise((r) => setTimeout(r, recordRetryMs * 2 ** (attempt - 1)));
        }
        // after the renewals in flight, so the write carries the newest resourceVersion; the
        // renewals go on until the answer is recorded
        const attemptDone = c.chain.then(record);
        c.chain = attemptDone.then(
          () => undefined,
          () => undefined,
        );
        try {
          w = await attemptDone;
          break;
        } catch (err) {
          failure = err;
        }
      }
      stop(c);
      if (w === undefined) {
        if (failure !== undefined) throw failure;
        return; // taken over while retrying: the new holder records its own
      }
      if (!('lease' in w)) return; // taken over meanwhile: the new holder records its own
      finished.set(c.name, {
        rv: w.lease.metadata?.resourceVersion ?? '',
        expiresAt: c.times.expiresAt.getTime(),
      });
      while (finished.size > maxRemembered) {
        const oldest = finished.keys().next();
        if (oldest.done) break;
        finished.delete(oldest.value);
      }
    },

    async release(claim) {
      const c = claim as LeaseClaim;
      if (c.ended) return;
      stop(c);
      await c.chain;
      await remove(c.name, c.rv);
    },
  };
}
