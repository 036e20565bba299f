// Revision names (DNS-1123, normalisation, collisions), name parsing, the plan for an observation
// (exists / create / flip-back / late report / forced), and the fresh revision it creates.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  InvalidProviderNameError,
  InvalidRevisionNumberError,
} from '../../../shared/domain/errors.ts';
import type { Observation } from '../../../shared/domain/observation.ts';
import {
  isDnsSubdomain,
  newRevision,
  parseRevisionName,
  planRevision,
  type Revision,
  revisionName,
} from '../../../shared/domain/revision.ts';
import { minute, rev } from '../../support/unit/domain-fixtures.ts';

const h8 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 8);

describe('revisionName', () => {
  const cases: [string, number, string][] = [
    ['aws-kms', 3, 'encryption-key-aws-kms-3'],
    ['kms.v2', 1, 'encryption-key-kms.v2-1'],
    ['AWS_KMS', 1, `encryption-key-aws-kms-${h8('AWS_KMS')}-1`],
    ['aws kms!', 2, `encryption-key-aws-kms-${h8('aws kms!')}-2`],
    ['x.', 1, `encryption-key-x-${h8('x.')}-1`],
    ['___', 7, `encryption-key-${h8('___')}-7`],
  ];
  for (const [provider, n, want] of cases) {
    it(`names ${JSON.stringify(provider)} #${n} ${want}`, () => {
      const name = revisionName(provider, n);
      assert.equal(name, want);
      assert.ok(isDnsSubdomain(name));
    });
  }

  it('keeps providers that normalise alike apart', () => {
    assert.notEqual(revisionName('aws-kms', 1), revisionName('AWS-KMS', 1));
    assert.notEqual(revisionName('a_b', 1), revisionName('a.b', 1));
  });

  it('stays a valid name for a very long provider', () => {
    const name = revisionName('k'.repeat(300), Number.MAX_SAFE_INTEGER);
    assert.ok(isDnsSubdomain(name), name);
    assert.ok(name.length <= 253);
  });

  for (const provider of ['', '   ']) {
    it(`rejects provider ${JSON.stringify(provider)}`, () => {
      assert.throws(
        () => revisionName(provider, 1),
        (err: Error) => {
          assert.ok(err instanceof InvalidProviderNameError);
          assert.equal(err.name, 'InvalidProviderNameError');
          return true;
        },
      );
    });
  }

  for (const n of [0, -1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 1]) {
    it(`rejects revision number ${n}`, () => {
      assert.throws(() => revisionName('p', n), InvalidRevisionNumberError);
    });
  }
});

describe('parseRevisionName', () => {
  const cases: [string, ReturnType<typeof parseRevisionName>][] = [
    ['encryption-key-aws-kms-3', { providerSegment: 'aws-kms', number: 3 }],
    ['encryption-key-a-1-2', { providerSegment: 'a-1', number: 2 }],
    ['encryption-key-kms.v2-10', { providerSegment: 'kms.v2', number: 10 }],
    ['encryption-key--1', undefined],
    ['encryption-key-aws-0', undefined],
    ['encryption-key-aws-01', undefined],
    ['encryption-key-aws', undefined],
    ['Encryption-key-aws-1', undefined],
    ['other-aws-1', undefined],
    ['encryption-key-a-99999999999999999', undefined],
    ['encryption-key-a-9999999999999999', undefined],
  ];
  for (const [name, want] of cases) {
    it(`parses ${name}`, () => assert.deepEqual(parseRevisionName(name), want));
  }

  it('round-trips revisionName', () => {
    const parsed = parseRevisionName(revisionName('AWS_KMS', 12));
    assert.deepEqual(parsed, { providerSegment: `aws-kms-${h8('AWS_KMS')}`, number: 12 });
  });
});

function obs(keyId: string, at = minute(30), provider = 'p'): Observation {
  return { provider, keyId, source: 'plugin-status', observedAt: at };
}

describe('planRevision', () => {
  const k1 = rev({ number: 1, keyId: 'K1', phase: 'Completed' });
  const k2 = rev({ number: 2, keyId: 'K2' });
  const cases: {
    name: string;
    existing: Revision[];
    observation: Observation;
    force?: boolean;
    want: ReturnType<typeof planRevision>;
  }[] = [
    {
      name: 'the first revision is number 1',
      existing: [],
      observation: obs('K1'),
      want: { action: 'create', number: 1, name: 'encryption-key-p-1' },
    },
    {
      name: "other providers' revisions do not count",
      existing: [rev({ number: 4, provider: 'q' })],
      observation: obs('K1'),
      want: { action: 'create', number: 1, name: 'encryption-key-p-1' },
    },
    {
      name: 'the newest revision with the same key_id means already recorded',
      existing: [k1, k2],
      observation: obs('K2'),
      want: { action: 'exists', revision: k2 },
    },
    {
      name: 'the same key_id reported late is still already recorded',
      existing: [k2],
      observation: obs('K2', minute(0)),
      want: { action: 'exists', revision: k2 },
    },
    {
      name: 'a new key_id creates newest+1, whatever the input order',
      existing: [k2, k1],
      observation: obs('K3'),
      want: { action: 'create', number: 3, name: 'encryption-key-p-3' },
    },
    {
      name: 'a new key_id observed before the newest revision is a late report',
      existing: [k1, k2],
      observation: obs('K3', minute(1)),
      want: {
        action: 'ignore',
        newest: k2,
        reason: `observed at ${minute(1)}, before encryption-key-p-2 (${minute(2)}): a late report`,
      },
    },
    {
      name: 'forcing the current key_id creates a forced revision',
      existing: [k1],
      observation: obs('K1'),
      force: true,
      want: { action: 'create', number: 2, name: 'encryption-key-p-2', forced: true },
    },
    {
      name: 'forcing again while a forced revision is in flight is idempotent',
      existing: [k1, rev({ number: 2, keyId: 'K1', forced: true, phase: 'Migrating' })],
      observation: obs('K1'),
      force: true,
      want: {
        action: 'exists',
        revision: rev({ number: 2, keyId: 'K1', forced: true, phase: 'Migrating' }),
      },
    },
    {
      name: 'forcing after a completed forced revision forces again',
      existing: [rev({ number: 2, keyId: 'K1', forced: true, phase: 'Completed' })],
      observation: obs('K1'),
      force: true,
      want: { action: 'create', number: 3, name: 'encryption-key-p-3', forced: true },
    },
    {
      name: 'forcing with a new key_id is an ordinary new revision',
      existing: [k1],
      observation: obs('K9'),
      force: true,
      want: { action: 'create', number: 2, name: 'encryption-key-p-2' },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const options = c.force !== undefined ? { force: c.force } : {};
      assert.deepEqual(planRevision(c.existing, c.observation, options), c.want);
    });
  }

  it('a flip-back to an older key_id creates a new revision with a warning', () => {
    const plan = planRevision([k1, k2], obs('K1'));
    assert.equal(plan.action, 'create');
    assert.ok(plan.action === 'create');
    assert.equal(plan.number, 3);
    assert.match(plan.warning ?? '', /KEP 3299/);
    assert.match(plan.warning ?? '', /encryption-key-p-1/);
    assert.ok(!(plan.warning ?? '').includes('K1'), 'the warning names the hash, not the key_id');
    assert.match(plan.warning ?? '', /rollback/);
  });

  it('a new key_id first seen before the newest revision is late, however fresh its heartbeat', () => {
    const plan = planRevision([k1, k2], { ...obs('K3', minute(30)), firstSeenAt: minute(1) });
    assert.deepEqual(plan, {
      action: 'ignore',
      newest: k2,
      reason: `first seen at ${minute(1)}, before encryption-key-p-2 (${minute(2)}): a late report`,
    });
  });

  it('a key_id every report agrees on is recorded, whenever it was first seen', () => {
    const late = { ...obs('K1', minute(30)), firstSeenAt: minute(1) };
    assert.equal(planRevision([k1, k2], late).action, 'ignore');
    const plan = planRevision([k1, k2], late, { agreed: true });
    assert.equal(plan.action, 'create');
    assert.ok(plan.action === 'create');
    assert.equal(plan.number, 3);
    assert.match(plan.warning ?? '', /rollback/);
  });
});

describe('newRevision', () => {
  it('starts Observed, with the key hash and no progress', () => {
    const r = newRevision({ observation: obs('K1'), number: 1, now: minute(31) });
    assert.deepEqual(r, {
      provider: 'p',
      number: 1,
      name: 'encryption-key-p-1',
      keyId: 'K1',
      keyIdHash: `sha256:${createHash('sha256').update('K1').digest('hex')}`,
      source: 'plugin-status',
      observedAt: minute(30),
      phase: 'Observed',
      createdAt: minute(31),
      progress: { resources: [], failed: [] },
    });
  });

  it('records since when the key_id is seen, when the source knows it', () => {
    const observation = { ...obs('K1'), firstSeenAt: minute(20) };
    const r = newRevision({ observation, number: 1, now: minute(31) });
    assert.equal(r.observedAt, minute(20));
  });

  it('marks a forced revision', () => {
    const r = newRevision({ observation: obs('K1'), number: 2, now: minute(31), forced: true });
    assert.equal(r.forced, true);
  });
});
