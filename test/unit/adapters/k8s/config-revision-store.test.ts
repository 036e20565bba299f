// Configuration revisions as Secrets: the record round-trips through annotations, the text only
// through `data` (never an annotation or label: it may hold local keys), and a damaged Secret is
// skipped rather than guessed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  CONFIG_DATA_KEY,
  configRevisionToSecret,
  LABEL_CONFIG_REVISION,
  secretToConfigRevision,
} from '../../../../shared/adapters/k8s/config-revision-store.ts';
import type { ConfigRevisionRecord } from '../../../../shared/domain/encryption-revisions/switch-state.ts';

const KEY = 'c2VjcmV0LWtleS1tYXRlcmlhbC0zMi1ieXRlcy1sb25nISE=';
const TEXT = `resources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys: [{ name: key-r2, secret: ${KEY} }]\n`;

describe('configuration revision Secrets', () => {
  const record: ConfigRevisionRecord = {
    number: 3,
    stage: 'write',
    hash: 'sha256:abc',
    state: 'rolling-out',
    switch: {
      id: 2,
      target: 'aescbc',
      from: 'identity',
      to: 'aescbc:key-r2',
      resources: ['secrets'],
    },
    migration: 'migrated',
    degraded: 'node-b: its node agent cannot apply it',
  };

  it('round-trips the record and the text', () => {
    const s = configRevisionToSecret(record, 'rekey-system', TEXT);
    assert.equal(s.metadata?.name, 'rekey-encryption-config-3');
    assert.equal(s.metadata?.labels?.[LABEL_CONFIG_REVISION], 'true');
    const back = secretToConfigRevision({
      ...s,
      metadata: { ...s.metadata, resourceVersion: '7' },
    });
    assert.deepEqual(back?.record, record);
    assert.equal(back?.text, TEXT);
    assert.equal(back?.version, '7');
  });

  it("round-trips stage 3's page checkpoints and a stage's reload baseline", () => {
    const counts = {
      listed: 500,
      reencrypted: 490,
      unchanged: 10,
      conflicts: 0,
      gone: 0,
      failed: 1,
      retried: 2,
      alreadyCurrent: 0,
    };
    const withProgress: ConfigRevisionRecord = {
      ...record,
      migration: undefined,
      progress: {
        checkpoints: [
          { resource: 'configmaps', done: true, counts, finishedAt: '2026-12-02T10:00:00.000Z' },
          {
            resource: 'secrets',
            done: false,
            continueToken: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEifQ',
            counts,
          },
        ],
        failed: ['secrets ns/refused'],
      },
      reloadBaseline: { 'id-a': 0, 'id-b': 3 },
    };
    delete withProgress.migration;
    const s = configRevisionToSecret(withProgress, 'rekey-system', TEXT);
    // the same checkpoint annotations a key_id revision carries
    assert.ok(s.metadata?.annotations?.['rekey.dev/progress.secrets']);
    const back = secretToConfigRevision({
      ...s,
      metadata: { ...s.metadata, resourceVersion: '8' },
    });
    assert.deepEqual(back?.record, withProgress);
    // a damaged baseline is dropped, not guessed
    const damaged = {
      ...s,
      metadata: {
        ...s.metadata,
        annotations: { ...s.metadata?.annotations, 'rekey.dev/config-reload-baseline': '{' },
      },
    };
    assert.equal(secretToConfigRevision(damaged)?.record.reloadBaseline, undefined);
  });

  it('keeps key material out of metadata', () => {
    const s = configRevisionToSecret(record, 'rekey-system', TEXT);
    assert.doesNotMatch(JSON.stringify(s.metadata), new RegExp(KEY));
    assert.ok(s.data?.[CONFIG_DATA_KEY]);
  });

  it('skips a Secret it cannot read', () => {
    const s = configRevisionToSecret(record, 'rekey-system', TEXT);
    const bad = {
      ...s,
      metadata: { ...s.metadata, annotations: { 'rekey.dev/config-number': 'x' } },
    };
    assert.equal(secretToConfigRevision(bad), undefined);
    assert.equal(secretToConfigRevision({ ...s, data: {} }), undefined);
  });
});
