// A rotation reported by the KMS itself: hidden behind an unchanged key_id (aws-encryption-provider
// reports the key ARN) it is explained and recorded, never migrated; a key_id that names the new
// material is stale; with nothing recorded yet there is nowhere to note it.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createMemoryRevisionStore } from '../../../shared/adapters/memory/revision-store.ts';
import { noteKmsRotation } from '../../../shared/core/note-kms-rotation.ts';
import type { KmsRotation } from '../../../shared/domain/kms-rotation.ts';
import type { Observation } from '../../../shared/domain/observation.ts';
import type { Revision } from '../../../shared/domain/revision.ts';
import type { Clock } from '../../../shared/ports/clock.ts';
import type { KeyObserver } from '../../../shared/ports/key-observer.ts';
import { counts, minute, rev } from '../../support/unit/domain-fixtures.ts';

const P = 'p';
const ARN = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const NOW = '2025-01-01T02:00:00.000Z';
const clock: Clock = { now: () => new Date(NOW) };

const rotation: KmsRotation = {
  cloud: 'aws',
  key: ARN,
  newMaterialId: 'mat-2',
  at: minute(30),
  via: 'aws-eventbridge',
};

function observer(...keyIds: string[]): KeyObserver {
  const observations: Observation[] = keyIds.map((keyId, i) => ({
    provider: P,
    keyId,
    source: 'plugin-status',
    observedAt: minute(40 + i),
  }));
  return { observe: async () => ({ observations, pluginHealth: { status: 'healthy' } }) };
}

/** Revision 1 (older) and 2 (newest, Completed after a full migration) of `keyId`. */
function recorded(keyId: string, olderKeyId = 'k-old'): Revision[] {
  return [
    rev({ number: 1, keyId: olderKeyId, phase: 'Completed' }),
    rev({
      number: 2,
      keyId,
      phase: 'Completed',
      progress: {
        resources: [
          {
            resource: 'secrets',
            done: true,
            counts: counts({ listed: 40, reencrypted: 40 }),
            finishedAt: minute(20),
          },
        ],
        failed: [],
      },
      verification: { clean: true, offenders: [], scanned: 40, checkedAt: minute(21) },
    }),
  ];
}

function setup(revisions: Revision[], ...keyIds: string[]) {
  const store = createMemoryRevisionStore(revisions);
  const logs: string[] = [];
  const deps = {
    store,
    observer: observer(...keyIds),
    clock,
    log: (message: string, fields?: Record<string, unknown>) =>
      logs.push(JSON.stringify({ message, ...fields })),
  };
  const named = (name: string) => {
    const r = store.all().find((x) => x.name === name);
    assert.ok(r, name);
    return r;
  };
  return { store, deps, logs, named };
}

/** A revision without what noting a rotation may change. */
function withoutNote(r: Revision) {
  const { kmsRotation: _k, updatedAt: _u, ...rest } = r;
  return rest;
}

describe('noteKmsRotation', () => {
  it('explains a rotation hidden behind an unchanged ARN key_id and starts nothing', async () => {
    const before = recorded(ARN);
    const { deps, store, named, logs } = setup(before, ARN);

    const r = await noteKmsRotation(deps, P, rotation);

    assert.equal(r.recorded, true);
    assert.ok(r.recorded);
    assert.equal(r.revision, 'encryption-key-p-2');
    assert.equal(r.assessment.stale, false);
    assert.equal(r.assessment.kind, 'hidden');
    assert.ok(r.assessment.kind === 'hidden');
    assert.deepEqual(
      r.assessment.waysForward.map((w) => w.kind),
      ['forced-rewrite', 'new-provider'],
    );

    const newest = named('encryption-key-p-2');
    assert.deepEqual(newest.kmsRotation, {
      key: ARN,
      at: minute(30),
      materialId: 'mat-2',
      verdict: 'hidden',
      explanation: r.assessment.explanation,
    });
    const explanation = newest.kmsRotation?.explanation ?? '';
    assert.match(explanation, /no object became stale/);
    assert.match(explanation, /forced rewrite/);
    assert.match(explanation, /new provider/);
    assert.equal(newest.updatedAt, NOW);

    // no migration: phase, progress and verification as they were; no new revision; older untouched
    const [older, previous] = before;
    assert.ok(older && previous);
    assert.deepEqual(withoutNote(newest), withoutNote(previous));
    assert.equal(newest.phase, 'Completed');
    assert.deepEqual(named('encryption-key-p-1'), older);
    assert.equal(store.all().length, 2);
    assert.ok(
      logs.some((l) => l.includes('"verdict":"hidden"')),
      'the verdict is logged',
    );
    assert.ok(!logs.join('\n').includes(ARN), 'logs carry no key_id');
  });

  it('a key_id change recorded after the rotation but before its event is that rotation: stale, migrating', async () => {
    // the key-id report reached rekey first (revision 2 at minute 35), the KMS event after it
    const revisions = recorded('k-new').map((r) =>
      r.number === 2 ? { ...r, phase: 'Migrating' as const, observedAt: minute(35) } : r,
    );
    const { deps } = setup(revisions, 'k-new');
    const r = await noteKmsRotation(deps, P, { ...rotation, newMaterialId: 'mat-x' });
    assert.ok(r.recorded);
    assert.equal(r.assessment.kind, 'key-id-changed');
    assert.match(r.assessment.explanation, /after this rotation/);
  });

  it('recognises the key by its bare id or an alias as well as by ARN', async () => {
    const { deps, named } = setup(recorded(ARN), ARN);
    const byId = await noteKmsRotation(deps, P, {
      cloud: 'aws',
      key: '1234abcd-12ab-34cd-56ef-1234567890ab',
      at: minute(31),
      via: 'aws-api',
    });
    assert.equal(byId.assessment?.kind, 'hidden');
    const byAlias = await noteKmsRotation(deps, P, {
      cloud: 'aws',
      key: 'arn:aws:kms:eu-west-1:111122223333:alias/etcd',
      aliases: [ARN],
      at: minute(32),
      via: 'aws-api',
    });
    assert.equal(byAlias.assessment?.kind, 'hidden');
    assert.equal(named('encryption-key-p-2').kmsRotation?.at, minute(32), 'the latest note wins');
    assert.equal(named('encryption-key-p-2').kmsRotation?.materialId, undefined);
  });

  it('calls a key_id that carries the new material id stale (already recorded)', async () => {
    const keyId = `${ARN}#mat-2`;
    const before = recorded(keyId, `${ARN}#mat-1`);
    const { deps, named } = setup(before, keyId);

    const r = await noteKmsRotation(deps, P, rotation);

    assert.equal(r.assessment?.stale, true);
    assert.equal(r.assessment?.kind, 'key-id-changed');
    assert.ok(r.recorded);
    const newest = named('encryption-key-p-2');
    assert.equal(newest.kmsRotation?.verdict, 'key-id-changed');
    assert.match(newest.kmsRotation?.explanation ?? '', /stale and will be migrated/);
    assert.deepEqual(withoutNote(newest), withoutNote(before[1] as Revision));
  });

  it('calls a plugin key_id newer than the newest revision stale', async () => {
    const { deps } = setup(recorded(`${ARN}#mat-1`), `${ARN}#mat-2`);
    const r = await noteKmsRotation(deps, P, rotation);
    assert.equal(r.assessment?.stale, true);
    assert.equal(r.assessment?.kind, 'key-id-changed');
  });

  it('waits for a versioned key_id to move to the new version (not yet adopted)', async () => {
    const key = 'projects/p/locations/global/keyRings/r/cryptoKeys/etcd';
    const { deps, named } = setup(
      recorded(`${key}/cryptoKeyVersions/1`),
      `${key}/cryptoKeyVersions/1`,
    );
    const r = await noteKmsRotation(deps, P, {
      cloud: 'gcp',
      key,
      newMaterialId: 'cryptoKeyVersions/2',
      at: minute(33),
      via: 'gcp-audit-log',
    });
    assert.equal(r.assessment?.stale, false);
    assert.equal(r.assessment?.kind, 'not-yet-adopted');
    assert.equal(named('encryption-key-p-2').kmsRotation?.verdict, 'not-yet-adopted');
  });

  it('records nothing when the provider has no revision yet', async () => {
    const { deps, store } = setup([], ARN);
    const r = await noteKmsRotation(deps, P, rotation);
    assert.equal(r.recorded, false);
    assert.ok(!r.recorded);
    assert.match(r.reason, /no revision/);
    assert.equal(r.assessment?.kind, 'hidden', 'still assessed from the plugin key_id');
    assert.deepEqual(store.all(), []);
  });

  it('records nothing, and assesses nothing, with no key_id known at all', async () => {
    const { deps, store } = setup([]);
    const r = await noteKmsRotation(deps, P, rotation);
    assert.equal(r.recorded, false);
    assert.ok(!r.recorded);
    assert.match(r.reason, /no key_id known yet for provider "p"/);
    assert.equal(r.assessment, undefined);
    assert.deepEqual(store.all(), []);
  });

  it('only looks at the provider it is asked about', async () => {
    const { deps, store } = setup([rev({ number: 1, provider: 'other', keyId: ARN })], ARN);
    const r = await noteKmsRotation(deps, P, rotation);
    assert.equal(r.recorded, false);
    assert.equal(store.all()[0]?.kmsRotation, undefined);
  });
});
