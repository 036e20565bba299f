// listPages, the paging the slice engine and the plan share: resumes after a continue token, goes
// on after a 410 with the token it carries, marks the first page of a listing restarted after a
// 410 that carries none, refuses a 410 it cannot recover from, lists nothing a caller does not
// pull, and stops at once when its signal aborts.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListRestartError, listPages } from '../../../shared/core/list-pages.ts';
import type { ListPage, ObjectRewriter } from '../../../shared/ports/object-rewriter.ts';
import { FakeClock, FakeCluster, INCONSISTENT } from '../../support/unit/fake-cluster.ts';

const names = (page: { items: { name: string }[] }) => page.items.map((i) => i.name).join(',');

async function all(pages: AsyncIterable<{ items: { name: string }[]; restarted: boolean }>) {
  const out: string[] = [];
  for await (const p of pages) out.push(`${p.restarted ? 'restarted ' : ''}${names(p)}`);
  return out;
}

describe('listPages', () => {
  it('resumes after a continue token and ends on the page without one', async () => {
    const cluster = new FakeCluster(new FakeClock(), 'k1', 5);
    const pages = await all(
      listPages({ rewriter: cluster, resource: 'secrets', pageSize: 2, from: 'ns-0/s-000' }),
    );
    assert.deepEqual(pages, ['s-002,s-004', 's-001,s-003']);
    assert.deepEqual(
      cluster.lists.map((l) => [l.continueToken, l.limit]),
      [
        ['ns-0/s-000', 2],
        ['ns-0/s-004', 2],
      ],
    );
  });

  it('after a 410 goes on with the token it carries, not from the start, and says so', async () => {
    const cluster = new FakeCluster(new FakeClock(), 'k1', 8);
    cluster.expireNextToken = true;
    cluster.expiredCarriesToken = true;
    const seen: string[] = [];
    for await (const p of listPages({ rewriter: cluster, resource: 'secrets', pageSize: 3 })) {
      seen.push(`${p.restarted ? 'restarted ' : ''}${p.resumed ? 'resumed ' : ''}${names(p)}`);
    }
    // every object once: the first page is not listed again, the tail is reached
    assert.deepEqual(seen, ['s-000,s-002,s-004', 'resumed s-006,s-001,s-003', 's-005,s-007']);
    assert.deepEqual(
      cluster.lists.map((l) => l.continueToken),
      [undefined, 'ns-0/s-004', `${INCONSISTENT}ns-0/s-004`, 'ns-1/s-003'],
    );
  });

  it('a 410 answered with a token again and again ends in a listing from the start', async () => {
    let lists = 0;
    const rewriter = {
      async listPage({ continueToken }: { continueToken?: string }): Promise<ListPage> {
        lists++;
        if (continueToken) return { items: [], expired: true, continue: `t${lists}` };
        return { items: [{ namespace: '', name: 'a', uid: 'u', resourceVersion: '1' }] };
      },
    };
    const pages = await all(
      listPages({ rewriter: rewriter as unknown as ObjectRewriter, resource: 'x', from: 't0' }),
    );
    assert.deepEqual(pages, ['restarted a']);
    assert.equal(lists, 5, 'the expired token, three tokens the 410s carried, then the start');
  });

  it('after a 410 without a token lists again from the start, and says so on that page only', async () => {
    const cluster = new FakeCluster(new FakeClock(), 'k1', 5);
    cluster.expireNextToken = true;
    const pages = await all(listPages({ rewriter: cluster, resource: 'secrets', pageSize: 3 }));
    assert.deepEqual(pages, ['s-000,s-002,s-004', 'restarted s-000,s-002,s-004', 's-001,s-003']);
  });

  it('a 410 to a list from the start cannot be helped by listing again', async () => {
    const rewriter = {
      lists: 0,
      async listPage(): Promise<ListPage> {
        rewriter.lists++;
        return { items: [], expired: true };
      },
    };
    const pages = listPages({ rewriter: rewriter as unknown as ObjectRewriter, resource: 'x' });
    await assert.rejects(all(pages), ListRestartError);
    assert.equal(rewriter.lists, 1);
  });

  it('lists no page the caller does not pull', async () => {
    const cluster = new FakeCluster(new FakeClock(), 'k1', 5);
    for await (const _ of listPages({ rewriter: cluster, resource: 'secrets', pageSize: 2 })) break;
    assert.equal(cluster.lists.length, 1);
  });

  it('an aborted signal ends a wait between attempts at once, with its reason', async () => {
    const controller = new AbortController();
    const reason = new Error('the step lost its Lease');
    let lists = 0;
    const rewriter = {
      async listPage(): Promise<ListPage> {
        lists++;
        throw Object.assign(new Error('HTTP 503'), { retryable: true });
      },
    };
    const pages = listPages({
      rewriter: rewriter as unknown as ObjectRewriter,
      resource: 'x',
      signal: controller.signal,
      // a backoff that would never end on its own
      sleep: () => {
        controller.abort(reason);
        return new Promise<void>(() => {});
      },
    });
    await assert.rejects(all(pages), (err) => err === reason);
    assert.equal(lists, 1, 'no attempt after the abort');
  });

  it('passes its signal to every list call', async () => {
    const controller = new AbortController();
    const signals: (AbortSignal | undefined)[] = [];
    const rewriter = {
      async listPage(r: { signal?: AbortSignal }): Promise<ListPage> {
        signals.push(r.signal);
        return { items: [] };
      },
    };
    await all(
      listPages({
        rewriter: rewriter as unknown as ObjectRewriter,
        resource: 'x',
        signal: controller.signal,
      }),
    );
    assert.deepEqual(signals, [controller.signal]);
  });
});
