// Lost updates: an object whose value is no longer the client's last acknowledged write counts,
// one with a failed write in the phase does not (that write may have been committed).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { CoreV1Api } from '@kubernetes/client-node';
import { countLostUpdates } from '../../bench/lost-updates.ts';

function fakeApi(values: Record<string, string>): CoreV1Api {
  return {
    readNamespacedSecret: async ({ name, namespace }: { name: string; namespace: string }) => ({
      data: { value: values[`${namespace}/${name}`] },
    }),
  } as unknown as CoreV1Api;
}

describe('lost updates', () => {
  it('counts objects that lost their last acknowledged write, not uncertain ones', async () => {
    const api = fakeApi({ 'ns/a': 'v2', 'ns/b': 'old', 'ns/c': 'old' });
    const lost = await countLostUpdates(api, {
      writes: 3,
      reads: 0,
      latenciesMs: [],
      lastWritten: new Map([
        ['ns/a', 'v2'],
        ['ns/b', 'v5'],
        ['ns/c', 'v7'],
      ]),
      errors: ['ns/c: HTTP-Code: 504 timeout'],
    });
    assert.equal(lost, 1);
  });
});
