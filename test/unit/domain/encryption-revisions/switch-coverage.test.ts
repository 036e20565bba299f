import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  uncoveredResources,
  unswitchedResources,
} from '../../../../shared/domain/encryption-revisions/switch-coverage.ts';
import type { ConfigRevisionRecord } from '../../../../shared/domain/encryption-revisions/switch-state.ts';

const finished = (
  number: number,
  target: string,
  to: string,
  resources: string[],
  state: ConfigRevisionRecord['state'] = 'applied',
): ConfigRevisionRecord => ({
  number,
  stage: 'remove-old',
  hash: `h${number}`,
  state,
  switch: { id: number - 2, target, from: 'identity', to, resources },
});

describe('uncoveredResources', () => {
  it('names the requested patterns a switch did not name', () => {
    assert.deepEqual(uncoveredResources(['secrets'], ['secrets', 'configmaps']), ['configmaps']);
    assert.deepEqual(uncoveredResources(['secrets', 'configmaps'], ['configmaps']), []);
    assert.deepEqual(uncoveredResources(['secrets'], ['secrets', ' secrets ']), []);
  });

  it('a wildcard covers its group, `*.*` everything', () => {
    assert.deepEqual(uncoveredResources(['*.apps'], ['deployments.apps', 'secrets']), ['secrets']);
    assert.deepEqual(uncoveredResources(['*.'], ['secrets', 'deployments.apps']), [
      'deployments.apps',
    ]);
    assert.deepEqual(uncoveredResources(['*.*'], ['secrets', 'deployments.apps']), []);
  });

  it('finished switches to the target together cover what each switched and still writes', () => {
    const records = [
      finished(4, 'aescbc', 'aescbc:key-r2', ['secrets']),
      finished(7, 'aescbc', 'aescbc:key-r5', ['configmaps']),
    ];
    const running: Record<string, string> = {
      secrets: 'aescbc:key-r2',
      configmaps: 'aescbc:key-r5',
      events: 'identity',
    };
    const writes = (p: string) => running[p] ?? 'identity';
    assert.deepEqual(unswitchedResources(records, 'aescbc', ['secrets', 'configmaps'], writes), []);
    assert.deepEqual(unswitchedResources(records, 'aescbc', ['secrets', 'events'], writes), [
      'events',
    ]);
    // another target, or a switch rolled back, or a resource switched on since: not covered
    assert.deepEqual(unswitchedResources(records, 'secretbox', ['secrets'], writes), ['secrets']);
    const back = [finished(4, 'aescbc', 'aescbc:key-r2', ['secrets'], 'rolled-back')];
    assert.deepEqual(unswitchedResources(back, 'aescbc', ['secrets'], writes), ['secrets']);
    assert.deepEqual(
      unswitchedResources(records, 'aescbc', ['secrets'], () => 'kms:k'),
      ['secrets'],
    );
  });
});
