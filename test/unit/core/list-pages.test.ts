// listPages, the paging the slice engine and the plan share: resumes after a continue token,
// marks the first page of a listing restarted after a 410, refuses a 410 it cannot recover from,
// and lists nothing a caller does not pull.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListRestartError, listPages } from '../../../shared/core/list-pages.ts';
import type { ListPage, ObjectRewriter } from '../../../shared/ports/object-rewriter.ts';
import { FakeClock, FakeCluster } from '../../support/unit/fake-cluster.ts';

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

  it('after a 410 lists again from the start, and says so on that page only', async () => {
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
});
