// rekey's own reading of an EncryptionSwitch spec: the same targets as `--to`, aesgcm refused
// with upstream's reason, resources as the EncryptionConfiguration names them.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readSwitchSpec } from '../../../../shared/domain/encryption-revisions/switch-spec.ts';
import { AESGCM_REFUSAL } from '../../../../shared/domain/encryption-revisions/target.ts';

describe('EncryptionSwitch spec', () => {
  it('takes every target --to takes, with or without resources', () => {
    assert.deepEqual(readSwitchSpec({ target: 'kms:sandbox-kms-b' }), {
      spec: { target: { type: 'kms', name: 'sandbox-kms-b' } },
    });
    assert.deepEqual(readSwitchSpec({ target: 'identity', resources: [] }), {
      spec: { target: { type: 'identity' } },
    });
    assert.deepEqual(
      readSwitchSpec({
        target: 'secretbox',
        resources: ['secrets', 'configmaps', '*.apps', 'secrets'],
      }),
      { spec: { target: { type: 'secretbox' }, resources: ['secrets', 'configmaps', '*.apps'] } },
    );
  });

  it("refuses aesgcm with upstream's reason, and anything else unknown", () => {
    assert.deepEqual(readSwitchSpec({ target: 'aesgcm' }), { invalid: AESGCM_REFUSAL });
    for (const spec of [
      undefined,
      'kms:x',
      {},
      { target: '' },
      { target: 'kms:' },
      { target: 'kms:a:b' },
      { target: 'aes' },
      { target: 'identity', resources: 'secrets' },
      { target: 'identity', resources: [''] },
      { target: 'identity', resources: ['pods/log'] },
      { target: 'identity', resources: [3] },
    ]) {
      const r = readSwitchSpec(spec);
      assert.ok('invalid' in r, JSON.stringify(spec));
      assert.doesNotMatch(r.invalid, /--to/);
    }
  });
});
