// Which listed object is rekey's own write during a migration: the Secret in the state namespace
// named like the revision, and no object of another resource with that namespace and name.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRevisionSecret } from '../../../shared/domain/revision-secret.ts';

const revision = { namespace: 'rekey-state', name: 'rekey-config-3' };

describe('isRevisionSecret', () => {
  it('is the Secret of that namespace and name only', () => {
    assert.equal(isRevisionSecret('secrets', revision, revision), true);
    assert.equal(isRevisionSecret('secrets', { ...revision, name: 'other' }, revision), false);
    assert.equal(isRevisionSecret('secrets', { ...revision, namespace: 'app' }, revision), false);
  });

  it('is never an object of another resource with the same namespace and name', () => {
    for (const resource of ['configmaps', 'deployments.apps', 'secrets.example.com']) {
      assert.equal(isRevisionSecret(resource, revision, revision), false, resource);
    }
  });

  it('is nothing when the revisions have no namespace', () => {
    assert.equal(isRevisionSecret('secrets', revision, { name: revision.name }), false);
    assert.equal(
      isRevisionSecret('secrets', revision, { namespace: undefined, name: revision.name }),
      false,
    );
  });
});
