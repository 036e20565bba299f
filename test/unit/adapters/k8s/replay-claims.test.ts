// The webhook replay claims on Leases (shared/adapters/k8s/replay-claims.ts) against an in-memory
// Lease store that keeps the apiserver's rules (create conflicts on an existing name, update and
// delete only as the resourceVersion read): one claim per id, the holder's renewals keep a long
// command's claim fresh, a release deletes only the claim it holds, and a finished claim is
// deleted by name once expired. The real apiserver: test/integration/webhook-replay.test.ts.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it, mock } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import {
  claimLeaseName,
  createLeaseReplayClaims,
} from '../../../../shared/adapters/k8s/replay-claims.ts';
import type { RestClient, RestRequest } from '../../../../shared/adapters/k8s/rest-client.ts';
import type { ClaimAttempt, ReplayClaim } from '../../../../shared/ports/replay-claims.ts';
import { failedDependency } from '../../../../shared/ports/retryable.ts';

const NS = 'rekey-state';
const PATH = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;

class FakeLeases {
  leases = new Map<string, V1Lease>();
  requests: Pick<RestRequest, 'method' | 'path'>[] = [];
  private rv = 1;
  readonly rest: RestClient = {
    request: async ({ method = 'GET', path, body }) => {
      this.requests.push({ method, path });
      const name = decodeURIComponent(path.slice(PATH.length + 1));
      const json = (status: number, b: unknown) => ({
        status,
        headers: {},
        body: JSON.stringify(b),
      });
      const existing = this.leases.get(name);
      if (method === 'GET') return existing ? json(200, existing) : json(404, {});
      if (method === 'DELETE') {
        if (!existing) return json(404, {});
        const want = (body as { preconditions?: { resourceVersion?: string } }).preconditions
          ?.resourceVersion;
        if (want !== existing.metadata?.resourceVersion) return json(409, {});
        this.leases.delete(name);
        return json(200, {});
      }
      const l = JSON.parse(JSON.stringify(body)) as V1Lease;
      const lname = l.metadata?.name ?? name;
      if (method === 'POST' && this.leases.has(lname)) return json(409, {});
      if (method === 'PUT') {
        if (!existing) return json(404, {});
        if (l.metadata?.resourceVersion !== existing.metadata?.resourceVersion)
          return json(409, {});
      }
      l.metadata = { ...l.metadata, resourceVersion: String(++this.rv) };
      this.leases.set(lname, l);
      return json(method === 'POST' ? 201 : 200, l);
    },
    close() {},
  };
}

const T0 = Date.parse('2026-01-01T00:00:00Z');
let now = T0;
const clock = { now: () => new Date(now) };
const times = (expiresInMs = 360_000) => ({
  expiresAt: new Date(now + expiresInMs),
  staleAfterMs: 150_000,
});

function claimed(a: ClaimAttempt): ReplayClaim {
  assert.equal(a.kind, 'claimed', JSON.stringify(a));
  return (a as { claim: ReplayClaim }).claim;
}

describe('Lease replay claims', () => {
  beforeEach(() => {
    now = T0;
    mock.timers.enable({ apis: ['setInterval'] });
  });
  afterEach(() => mock.timers.reset());

  it('one claim per id across two replicas; the answer is kept for replays', async () => {
    const api = new FakeLeases();
    const a = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'a', clock });
    const b = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'b', clock });
    const first = claimed(await a.claim('msg-1', times()));
    const second = await b.claim('msg-1', times());
    assert.equal(second.kind, 'running');
    assert.equal((second as { holder: string }).holder, 'a');
    await a.complete(first, { status: 200, body: { command: 'rotate' } });
    assert.deepEqual(await b.claim('msg-1', times()), {
      kind: 'done',
      answer: { status: 200, body: { command: 'rotate' } },
    });
    const lease = api.leases.get(claimLeaseName('msg-1'));
    assert.equal(lease?.metadata?.labels?.['rekey.dev/webhook-claim'], 'true');
  });

  it("a failed recording of the answer is retried: the finished command's claim never goes stale unrecorded (no second run)", async () => {
    const api = new FakeLeases();
    const a = createLeaseReplayClaims(api.rest, {
      namespace: NS,
      holder: 'a',
      clock,
      recordRetryMs: 1,
    });
    const b = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'b', clock });
    const held = claimed(await a.claim('msg-blip', times()));
    // the apiserver blips: the next two updates fail
    const request = api.rest.request;
    let failures = 2;
    api.rest.request = async (req) => {
      if (req.method === 'PUT' && failures > 0) {
        failures--;
        return { status: 503, headers: {}, body: '{}' };
      }
      return request(req);
    };
    await a.complete(held, { status: 200, body: { command: 'rotate' } });
    assert.equal(failures, 0);
    assert.deepEqual(await b.claim('msg-blip', times()), {
      kind: 'done',
      answer: { status: 200, body: { command: 'rotate' } },
    });
  });

  it("the holder's renewals keep a long command's claim from being taken over", async () => {
    const api = new FakeLeases();
    const a = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'a', clock });
    const b = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'b', clock });
    const held = claimed(await a.claim('msg-long', times(3_600_000)));
    for (let i = 0; i < 6; i++) {
      now += 50_000;
      mock.timers.tick(50_000); // a third of staleAfterMs: one renewal
      await new Promise((r) => setImmediate(r));
    }
    assert.equal((await b.claim('msg-long', times(3_600_000))).kind, 'running', '300 s later');
    await a.release(held);
    assert.equal(api.leases.size, 0, 'released: deleted');
    claimed(await b.claim('msg-long', times()));
  });

  it('a claim nobody renews is stale after staleAfterMs and taken over; the old holder then records nothing', async () => {
    const api = new FakeLeases();
    const a = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'a', clock });
    const b = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'b', clock });
    const lost = claimed(await a.claim('msg-stale', times()));
    now += 150_000; // no timer ran: as if a's process had frozen
    const taken = claimed(await b.claim('msg-stale', times()));
    await a.complete(lost, { status: 200, body: { from: 'a' } });
    await a.release(lost);
    assert.equal(api.leases.get(claimLeaseName('msg-stale'))?.spec?.holderIdentity, 'b');
    await b.complete(taken, { status: 200, body: { from: 'b' } });
    const replay = await a.claim('msg-stale', times());
    assert.deepEqual(replay, { kind: 'done', answer: { status: 200, body: { from: 'b' } } });
  });

  it('deletes the expired claims it finished, by name, on its next claim', async () => {
    const api = new FakeLeases();
    const a = createLeaseReplayClaims(api.rest, { namespace: NS, holder: 'a', clock });
    await a.complete(claimed(await a.claim('msg-old', times(60_000))), { status: 200, body: {} });
    now += 60_000;
    api.requests.length = 0;
    await a.complete(claimed(await a.claim('msg-new', times())), { status: 200, body: {} });
    assert.deepEqual(
      [...api.leases.keys()],
      [claimLeaseName('msg-new')],
      'the expired one is gone',
    );
    assert.ok(
      api.requests.every((r) => r.path !== PATH || r.method === 'POST'),
      'no list of Leases',
    );
  });

  it('a claim answered 200 with something that is not a Lease fails retryably, quoting nothing', async () => {
    for (const body of ['<html>proxy</html>', '', 'null']) {
      const rest: RestClient = {
        request: async () => ({ status: 200, headers: {}, body }),
        close() {},
      };
      const claims = createLeaseReplayClaims(rest, { namespace: NS, holder: 'a', clock });
      const err = await claims.claim('msg-odd', times()).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof Error, `${JSON.stringify(body)}: no claim`);
      assert.equal(failedDependency(err)?.retryable, true, `${JSON.stringify(body)}: retryable`);
      assert.ok(!err.message.includes('proxy'), err.message);
    }
  });
});
