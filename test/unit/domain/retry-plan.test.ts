// What a retry pass re-patches: named refusals and in-scope offenders by name, resources whose
// names were capped listed again instead, strays and resources out of scope left alone; and the
// counts that say whether the rest needs someone to act.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MigrationProgress } from '../../../shared/domain/migration-progress.ts';
import { outstanding, parseOffender, planRetry } from '../../../shared/domain/retry-plan.ts';
import type { VerificationResult } from '../../../shared/domain/verification.ts';
import { counts, minute } from '../../support/unit/domain-fixtures.ts';

const scope = ['secrets', 'configmaps', 'widgets.example.com'];

function progress(over: Partial<MigrationProgress> = {}): MigrationProgress {
  return {
    resources: [
      { resource: 'configmaps', done: true, counts: counts({ listed: 5 }) },
      { resource: 'secrets', done: true, counts: counts({ listed: 9, failed: 1 }) },
    ],
    failed: [{ resource: 'secrets', namespace: 'a', name: 'denied', reason: 'denied by policy' }],
    ...over,
  };
}

function scan(over: Partial<VerificationResult> = {}): VerificationResult {
  return { clean: false, offenders: [], checkedAt: minute(3), ...over };
}

describe('planRetry', () => {
  it('re-patches a named refusal by name', () => {
    assert.deepEqual(planRetry({ progress: progress(), scope }), {
      targets: [{ resource: 'secrets', namespace: 'a', name: 'denied' }],
      relist: [],
    });
  });

  it('adds in-scope offenders once, namespaced and cluster-scoped, and leaves strays alone', () => {
    const verification = scan({
      offenders: [
        'secrets/a/denied',
        'configmaps/b/c',
        'widgets.example.com/w-1',
        'example.com/x/y/z',
      ],
      offenderCount: 4,
      strays: 1,
    });
    assert.deepEqual(planRetry({ progress: progress(), verification, scope }), {
      targets: [
        { resource: 'secrets', namespace: 'a', name: 'denied' },
        { resource: 'configmaps', namespace: 'b', name: 'c' },
        { resource: 'widgets.example.com', namespace: '', name: 'w-1' },
      ],
      relist: [],
    });
  });

  it('lists a resource again when its refusals were counted beyond the names kept', () => {
    const p = progress({
      resources: [
        { resource: 'secrets', done: true, counts: counts({ listed: 900, failed: 150 }) },
      ],
    });
    assert.deepEqual(planRetry({ progress: p, scope }), { targets: [], relist: ['secrets'] });
  });

  it('lists again the resources with offenders when their names were capped', () => {
    const verification = scan({
      offenders: ['configmaps/b/c'],
      offenderCount: 80,
      resources: [
        {
          resource: 'configmaps',
          storagePrefix: '/registry/configmaps/',
          write: true,
          scanned: 100,
          current: 20,
          olderKeyIds: 80,
          otherProviders: 0,
          plaintext: 0,
        },
      ],
    });
    assert.deepEqual(planRetry({ progress: progress(), verification, scope }), {
      targets: [{ resource: 'secrets', namespace: 'a', name: 'denied' }],
      relist: ['configmaps'],
    });
  });

  it('lists again where a failure named no resource (an earlier record)', () => {
    const p = progress({ failed: [{ namespace: 'a', name: 'denied', reason: 'x' }] });
    assert.deepEqual(planRetry({ progress: p, scope }), { targets: [], relist: ['secrets'] });
  });

  it('never touches a resource that left the scope, nor offenders of a clean scan', () => {
    assert.deepEqual(planRetry({ progress: progress(), scope: ['configmaps'] }), {
      targets: [],
      relist: [],
    });
    const verification = scan({ clean: true, offenders: ['configmaps/b/c'] });
    assert.deepEqual(
      planRetry({ progress: progress({ failed: [] }), verification, scope }).targets,
      [],
    );
  });
});

describe('outstanding', () => {
  it('tells refusals, offenders in scope and strays apart', () => {
    const v = scan({ offenders: ['secrets/a/b', 'x/y'], offenderCount: 5, strays: 2 });
    assert.deepEqual(outstanding(1, v), { refused: 1, offending: 3, strays: 2 });
    assert.deepEqual(outstanding(0, scan({ clean: true })), {
      refused: 0,
      offending: 0,
      strays: 0,
    });
    assert.deepEqual(outstanding(2, undefined), { refused: 2, offending: 0, strays: 0 });
  });
});

describe('parseOffender', () => {
  const inScope = new Set(scope);
  it('reads the names the proof writes, and nothing else', () => {
    assert.deepEqual(parseOffender('secrets/ns/n', inScope), {
      resource: 'secrets',
      namespace: 'ns',
      name: 'n',
    });
    assert.deepEqual(parseOffender('widgets.example.com/w', inScope), {
      resource: 'widgets.example.com',
      namespace: '',
      name: 'w',
    });
    for (const bad of ['secrets', 'secrets/', 'secrets/a/b/c', 'deployments/a/b', 'secrets//b']) {
      assert.equal(parseOffender(bad, inScope), undefined, bad);
    }
  });
});
