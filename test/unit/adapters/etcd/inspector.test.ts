// The inspector's paging against an in-memory etcd: bounded pages, continuation after the last
// key, one pinned revision, namespace scoping, compaction recovery and error wrapping.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  EtcdInspectionError,
  prefixRangeEnd,
  type RangeReader,
  regrownLimit,
  scanPrefix,
  scanReports,
  summariseStream,
} from '../../../../shared/adapters/etcd/inspector.ts';
import type { ObjectReport } from '../../../../shared/domain/encrypted-value.ts';

type Call = { start: string; end: string; limit: number; revision?: string };

/** A sorted byte-keyed store that answers Range like etcd and records each call. */
function fakeEtcd(entries: Record<string, string>, revision = '42') {
  const keys = Object.keys(entries)
    .map((k) => Buffer.from(k))
    .sort(Buffer.compare);
  const calls: Call[] = [];
  const read: RangeReader = async ({ start, end, limit, revision: rev }) => {
    calls.push({
      start: Buffer.from(start).toString('latin1'),
      end: Buffer.from(end).toString('latin1'),
      limit,
      ...(rev ? { revision: rev } : {}),
    });
    const inRange = keys.filter(
      (k) => Buffer.compare(k, start) >= 0 && Buffer.compare(k, Buffer.from(end)) < 0,
    );
    const page = inRange.slice(0, limit);
    return {
      kvs: page.map((k) => ({ key: k, value: Buffer.from(entries[k.toString()] ?? '') })),
      more: inRange.length > limit,
      revision,
    };
  };
  return { read, calls };
}

async function collect(it: AsyncIterable<ObjectReport>): Promise<ObjectReport[]> {
  const out: ObjectReport[] = [];
  for await (const r of it) out.push(r);
  return out;
}

const store = {
  '/registry/secrets/a/s1': 'k8s:enc:aescbc:v1:key1:xx',
  '/registry/secrets/a/s2': '{}',
  '/registry/secrets/ab/s3': 'k8s:enc:kms:v1:old:zz',
  '/registry/secrets/b/s4': '{}',
  '/registry/secrets/b/s5': '{}',
  '/registry/secretsx/a/nope': '{}',
  '/registry/configmaps/a/c1': '{}',
};

describe('scanReports', () => {
  it('pages with the limit, continues after the last key and pins the first revision', async () => {
    const { read, calls } = fakeEtcd(store);
    const reports = await collect(scanReports(read, { pageSize: 2 }));
    assert.deepEqual(
      reports.map((r) => [r.namespace, r.name, r.kind]),
      [
        ['a', 's1', 'aescbc'],
        ['a', 's2', 'identity'],
        ['ab', 's3', 'kms-v1'],
        ['b', 's4', 'identity'],
        ['b', 's5', 'identity'],
      ],
    );
    assert.deepEqual(calls, [
      { start: '/registry/secrets/', end: '/registry/secrets0', limit: 2 },
      { start: '/registry/secrets/a/s2\0', end: '/registry/secrets0', limit: 2, revision: '42' },
      { start: '/registry/secrets/b/s4\0', end: '/registry/secrets0', limit: 2, revision: '42' },
    ]);
  });

  it('scans several resources under a custom prefix in one snapshot', async () => {
    const { read, calls } = fakeEtcd({
      '/p/registry/secrets/a/s1': '{}',
      '/p/registry/configmaps/a/c1': 'k8s:enc:aesgcm:v1:k:..',
    });
    const reports = await collect(
      scanReports(read, { prefix: '/p/registry/', resources: ['secrets', 'configmaps'] }),
    );
    assert.deepEqual(
      reports.map((r) => [r.resource, r.name, r.kind, r.error]),
      [
        ['secrets', 's1', 'identity', undefined],
        ['configmaps', 'c1', 'aesgcm', undefined],
      ],
    );
    assert.equal(calls[0]?.revision, undefined);
    assert.equal(calls[1]?.revision, '42');
    assert.equal(calls[1]?.start, '/p/registry/configmaps/');
  });

  it('restricts to one namespace without catching namespaces that share its prefix', async () => {
    const { read, calls } = fakeEtcd(store);
    const reports = await collect(scanReports(read, { namespace: 'a' }));
    assert.deepEqual(
      reports.map((r) => r.key),
      ['/registry/secrets/a/s1', '/registry/secrets/a/s2'],
    );
    assert.equal(calls[0]?.start, '/registry/secrets/a/');
    assert.equal(calls[0]?.end, '/registry/secrets/a0');
  });

  it('yields nothing for an empty range and makes a single call', async () => {
    const { read, calls } = fakeEtcd(store);
    assert.deepEqual(await collect(scanReports(read, { resources: ['leases'] })), []);
    assert.equal(calls.length, 1);
  });

  it('summarises the stream', async () => {
    const { read } = fakeEtcd(store);
    const summary = await summariseStream(scanReports(read, { pageSize: 1 }));
    assert.equal(summary.objects, 5);
    assert.deepEqual(
      summary.rows.map((r) => [r.kind, r.provider, r.count]),
      [
        ['aescbc', 'key1', 1],
        ['identity', null, 3],
        ['kms-v1', 'old', 1],
      ],
    );
  });

  it('re-pins to the newest revision when the pinned one is compacted', async () => {
    const { read: inner, calls } = fakeEtcd(store);
    let failed = false;
    const read: RangeReader = async (req) => {
      if (req.revision === '42' && !failed) {
        failed = true;
        throw new Error('etcdserver: mvcc: required revision has been compacted');
      }
      return inner(req);
    };
    const reports = await collect(scanReports(read, { pageSize: 2 }));
    assert.equal(reports.length, 5);
    assert.equal(failed, true);
    // the failed call is not recorded by the inner store; the retry starts from the same key
    assert.equal(calls[1]?.start, '/registry/secrets/a/s2\0');
    assert.equal(calls[1]?.revision, undefined);
  });

  it('wraps other etcd failures in EtcdInspectionError with the cause', async () => {
    const boom = new Error('connection refused');
    const read: RangeReader = async () => {
      throw boom;
    };
    await assert.rejects(collect(scanReports(read)), (err: unknown) => {
      assert.ok(err instanceof EtcdInspectionError);
      assert.equal(err.name, 'EtcdInspectionError');
      assert.equal(err.cause, boom);
      assert.match(err.message, /\/registry\/secrets\//);
      return true;
    });
  });

  it('rejects a page size that is not a positive integer', async () => {
    const { read } = fakeEtcd(store);
    await assert.rejects(collect(scanReports(read, { pageSize: 0 })), RangeError);
  });
});

describe('scanPrefix over values larger than one gRPC answer', () => {
  const bytesOf = (kvs: readonly { key: Uint8Array; value: Uint8Array }[]) =>
    kvs.reduce((n, kv) => n + kv.key.length + kv.value.length, 0);
  /** An answer over `maxBytes` (keys and values) is refused as gRPC refuses one over its limit. */
  function limited(read: RangeReader, maxBytes: number, breakerOpenFor = 0) {
    let open = 0;
    const limited: RangeReader = async (req) => {
      if (open > 0) {
        open--;
        throw new Error('Execution prevented because the circuit breaker is open');
      }
      const page = await read(req);
      if (bytesOf(page.kvs) > maxBytes) {
        open = breakerOpenFor;
        throw Object.assign(new Error('Received message larger than max (5899511 vs 4194304)'), {
          code: 8,
        });
      }
      return page;
    };
    return limited;
  }
  const big: Record<string, string> = {};
  for (let i = 0; i < 23; i++) big[`/registry/secrets/ns/r${String(i).padStart(2, '0')}`] = '{}';
  const ENTRY = '/registry/secrets/ns/r00'.length + 2;

  it('asks for the same page again in halves, and reads every value once', async () => {
    const { read, calls } = fakeEtcd(big);
    const seen: string[] = [];
    for await (const v of scanPrefix(limited(read, 4 * ENTRY), {
      pageSize: 16,
      maxAnswerBytes: 4 * ENTRY,
    }))
      seen.push(v.key);
    assert.deepEqual(seen, Object.keys(big).sort());
    assert.deepEqual(
      calls.slice(0, 3).map((c) => c.limit),
      [16, 8, 4],
    );
  });

  it('past a cluster of large values, goes back to full pages', async () => {
    // 4 values of 1,000 bytes, then 19 small ones; answers over 2,500 bytes are refused
    const mixed: Record<string, string> = {};
    for (let i = 0; i < 23; i++) {
      mixed[`/registry/secrets/ns/m${String(i).padStart(2, '0')}`] =
        i < 4 ? 'x'.repeat(1000) : '{}';
    }
    const { read, calls } = fakeEtcd(mixed);
    const seen: string[] = [];
    for await (const v of scanPrefix(limited(read, 2500), { pageSize: 16, maxAnswerBytes: 2500 }))
      seen.push(v.key);
    assert.deepEqual(seen, Object.keys(mixed).sort());
    assert.deepEqual(
      calls.map((c) => c.limit),
      // refused at 16, 8 and 4; 2 large values a page while they last; full pages after
      [16, 8, 4, 2, 2, 2, 16, 16],
    );
  });

  it('regrownLimit: half an answer at the largest value just read, within [limit, pageSize]', () => {
    assert.equal(regrownLimit(2, 500, 1000, 64_000), 32);
    assert.equal(regrownLimit(2, 500, 100_000, 64_000), 2, 'never fewer than now');
    assert.equal(regrownLimit(2, 500, 10, 64_000), 500, 'never more than the page size');
    assert.equal(regrownLimit(2, 500, 0, 64_000), 500, 'empty values');
  });

  it("waits out the client's open breaker after a refused answer, then goes on", async () => {
    const { read } = fakeEtcd(big);
    const waits: number[] = [];
    const seen: string[] = [];
    for await (const v of scanPrefix(limited(read, 8 * ENTRY, 3), {
      pageSize: 16,
      maxAnswerBytes: 8 * ENTRY,
      sleep: async (ms) => void waits.push(ms),
    }))
      seen.push(v.key);
    assert.equal(seen.length, 23);
    assert.deepEqual(waits, [1000, 1000, 1000]);
  });

  it('an open breaker without a refused answer before it is a failure, as any other', async () => {
    const read: RangeReader = async () => {
      throw new Error('Execution prevented because the circuit breaker is open');
    };
    await assert.rejects(async () => {
      for await (const _ of scanPrefix(read, { sleep: async () => {} })) {
        // nothing
      }
    }, EtcdInspectionError);
  });
});

describe('prefixRangeEnd', () => {
  it('increments the last byte that can be incremented', () => {
    assert.deepEqual([...prefixRangeEnd(Uint8Array.of(0x61, 0x62))], [0x61, 0x63]);
    assert.deepEqual([...prefixRangeEnd(Uint8Array.of(0x61, 0xff))], [0x62]);
    assert.deepEqual([...prefixRangeEnd(Uint8Array.of(0xff))], [0]);
  });
});
