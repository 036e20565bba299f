// The Lease lock (shared/adapters/k8s/lease-lock.ts) judges another holder's Lease in the
// apiserver's time: renewTime plus duration against the Date header of the answer that returned
// it, and writes renewTime in that time too, so a runner whose clock is off by minutes neither
// takes a live Lease over nor leaves an expired one alone.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Lease } from '@kubernetes/client-node';
import { createLeaseLock } from '../../../../shared/adapters/k8s/lease-lock.ts';
import type { RestClient } from '../../../../shared/adapters/k8s/rest-client.ts';
import type { Clock } from '../../../../shared/ports/clock.ts';

const NS = 'rekey-system';
const PATH = `/apis/coordination.k8s.io/v1/namespaces/${NS}/leases`;

/** One Lease store behind the REST client, answering with the apiserver's time in `date`. */
class FakeLeaseApi {
  leases = new Map<string, V1Lease>();
  /** The apiserver's clock. */
  serverNow = Date.parse('2025-06-01T12:00:00.000Z');
  sendDate = true;
  private rv = 1;
  readonly rest: RestClient = {
    request: async ({ method = 'GET', path, body }) => {
      const headers = this.sendDate ? { date: new Date(this.serverNow).toUTCString() } : {};
      const name = decodeURIComponent(path.slice(PATH.length + 1));
      const json = (status: number, b: unknown) => ({ status, headers, body: JSON.stringify(b) });
      const existing = this.leases.get(name);
      if (method === 'GET') return existing ? json(200, existing) : json(404, { code: 404 });
      if (method === 'DELETE') {
        this.leases.delete(name);
        return json(200, {});
      }
      // as on the wire: JSON, where a MicroTime keeps its six digits
      const l = JSON.parse(JSON.stringify(body)) as V1Lease;
      const wanted = l.metadata?.resourceVersion;
      if (method === 'POST' && this.leases.has(l.metadata?.name ?? '')) return json(409, {});
      if (method === 'PUT' && wanted !== existing?.metadata?.resourceVersion) return json(409, {});
      l.metadata = { ...l.metadata, resourceVersion: String(++this.rv) };
      this.leases.set(l.metadata.name ?? name, l);
      return json(method === 'POST' ? 201 : 200, l);
    },
    close() {},
  };

  /** Another runner's Lease, renewed `agoMs` before now (apiserver time) for `seconds`. */
  heldBy(holder: string, agoMs: number, seconds: number) {
    const renew = new Date(this.serverNow - agoMs).toISOString();
    this.leases.set('rekey-p', {
      metadata: { name: 'rekey-p', namespace: NS, resourceVersion: String(++this.rv) },
      spec: {
        holderIdentity: holder,
        leaseDurationSeconds: seconds,
        acquireTime: renew as unknown as Date,
        renewTime: renew as unknown as Date,
      },
    });
  }
}

const clockAt = (t: number): Clock => ({ now: () => new Date(t) });
const HOUR = 3_600_000;

describe('createLeaseLock: expiry in the apiserver time', () => {
  it('leaves a live Lease alone though the local clock is an hour ahead', async () => {
    const api = new FakeLeaseApi();
    api.heldBy('other/1', 10_000, 30);
    const lock = createLeaseLock(api.rest, { namespace: NS, clock: clockAt(api.serverNow + HOUR) });
    const r = await lock.tryAcquire('rekey-p', 'me/1', 30_000);
    assert.equal(r.acquired, false);
    assert.ok(!r.acquired && r.heldBy === 'other/1');
    assert.equal(api.leases.get('rekey-p')?.spec?.holderIdentity, 'other/1');
  });

  it('takes over an expired Lease though the local clock is an hour behind', async () => {
    const api = new FakeLeaseApi();
    api.heldBy('other/1', 31_000, 30);
    const lock = createLeaseLock(api.rest, { namespace: NS, clock: clockAt(api.serverNow - HOUR) });
    const r = await lock.tryAcquire('rekey-p', 'me/1', 30_000);
    assert.equal(r.acquired, true);
    assert.equal(api.leases.get('rekey-p')?.spec?.holderIdentity, 'me/1');
  });

  it('writes acquireTime and renewTime in the apiserver time, as MicroTime', async () => {
    const api = new FakeLeaseApi();
    const lock = createLeaseLock(api.rest, { namespace: NS, clock: clockAt(api.serverNow + HOUR) });
    const r = await lock.tryAcquire('rekey-p', 'me/1', 30_000);
    assert.ok(r.acquired);
    const written = () => JSON.parse(JSON.stringify(api.leases.get('rekey-p')?.spec));
    assert.equal(written().renewTime, '2025-06-01T12:00:00.000000Z');
    assert.equal(written().acquireTime, '2025-06-01T12:00:00.000000Z');
    assert.equal(r.handle.expiresAt, '2025-06-01T12:00:30.000Z');

    api.serverNow += 10_000;
    const renewed = await lock.renew(r.handle, 30_000);
    assert.equal(written().renewTime, '2025-06-01T12:00:10.000000Z');
    assert.equal(renewed?.expiresAt, '2025-06-01T12:00:40.000Z');
  });

  it('a renewal of a Lease another holder took, or that is gone, is refused', async () => {
    const api = new FakeLeaseApi();
    const lock = createLeaseLock(api.rest, { namespace: NS, clock: clockAt(api.serverNow) });
    const r = await lock.tryAcquire('rekey-p', 'me/1', 30_000);
    assert.ok(r.acquired);
    api.heldBy('other/1', 0, 30);
    assert.equal(await lock.renew(r.handle, 30_000), undefined);
    api.leases.clear();
    assert.equal(await lock.renew(r.handle, 30_000), undefined);
  });

  it('falls back to the local clock only without a Date header', async () => {
    const api = new FakeLeaseApi();
    api.sendDate = false;
    api.heldBy('other/1', 10_000, 30);
    const ahead = createLeaseLock(api.rest, {
      namespace: NS,
      clock: clockAt(api.serverNow + HOUR),
    });
    assert.equal((await ahead.tryAcquire('rekey-p', 'me/1', 30_000)).acquired, true);
  });
});
