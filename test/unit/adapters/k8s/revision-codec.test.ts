// A revision as a Secret and back: the round trip keeps every field (optional ones too), a damaged
// record is reported instead of thrown, and the provider label is always a valid label value.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { V1Secret } from '@kubernetes/client-node';
import {
  LABEL_PROVIDER,
  providerLabel,
  REVISION_SECRET_TYPE,
  revisionToSecret,
  secretToRevision,
} from '../../../../shared/adapters/k8s/revision-codec.ts';
import { keyIdHash } from '../../../../shared/domain/key-id.ts';
import type { Revision } from '../../../../shared/domain/revision.ts';
import { counts, minute, rev } from '../../../support/unit/domain-fixtures.ts';

const NS = 'rekey-system';
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function roundTrip(r: Revision): Revision {
  const back = secretToRevision(revisionToSecret(r, NS));
  assert.ok(back.ok, back.ok ? '' : back.error);
  return back.revision;
}

const full: Revision = rev({
  number: 4,
  keyId: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
  source: 'aws-kms',
  phase: 'Degraded',
  updatedAt: minute(9),
  lastError: 'etcd verification found 1 object(s) still under an older key_id: secrets/a/b',
  forced: true,
  progress: {
    resources: [
      {
        resource: 'configmaps',
        done: true,
        counts: counts({ listed: 3, unchanged: 3 }),
        finishedAt: minute(7),
      },
      {
        resource: 'secrets',
        done: false,
        continueToken: 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MTIzfQ',
        counts: counts({ listed: 500, reencrypted: 497, conflicts: 1, gone: 1, failed: 1 }),
      },
    ],
    failed: [
      { resource: 'secrets', namespace: 'a', name: 'b', reason: 'denied by admission webhook "x"' },
    ],
  },
  verification: {
    clean: false,
    offenders: ['secrets/a/b'],
    offenderCount: 1,
    scanned: 500,
    checkedAt: minute(8),
  },
  convergence: {
    converged: true,
    via: 'metrics',
    pending: [],
    reason: 'all 1 live apiserver(s) report key sha256:0123',
    checkedAt: minute(6),
  },
  kmsRotation: {
    key: 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
    at: minute(5),
    materialId: 'm-2',
    verdict: 'hidden',
    explanation: 'no object became stale',
  },
});

describe('revision codec: round trip', () => {
  it('keeps a revision with only the required fields', () => {
    const r = rev({ number: 1 });
    assert.deepEqual(roundTrip(r), r);
  });

  it('keeps every optional field: checkpoints, failures, verification, convergence, forced, kmsRotation, lastError', () => {
    assert.deepEqual(roundTrip(full), full);
  });

  it('keeps the retry schedule of a Degraded revision', () => {
    const r = { ...full, retry: { attempt: 2, at: minute(12) } };
    assert.deepEqual(roundTrip(r), r);
  });

  it('keeps when convergence regressed, so the pass over every resource is not lost', () => {
    const r = { ...full, phase: 'Converging' as const, regressedAt: minute(13) };
    assert.deepEqual(roundTrip(r), r);
  });

  for (const phase of [
    'Observed',
    'Converging',
    'Migrating',
    'Verifying',
    'Completed',
    'Degraded',
  ] as const) {
    it(`keeps phase ${phase}`, () => {
      const r = rev({ number: 2, phase });
      assert.deepEqual(roundTrip(r), r);
    });
  }

  it('keeps a key_id with non-ASCII and separator characters', () => {
    const r = rev({ number: 3, keyId: 'projects/p/keys/k/cryptoKeyVersions/7#ü=+/' });
    assert.deepEqual(roundTrip(r), r);
  });

  it('writes a typed, labelled Secret in the namespace, the key_id only in data', () => {
    const s = revisionToSecret(full, NS);
    assert.equal(s.type, REVISION_SECRET_TYPE);
    assert.equal(s.metadata?.name, full.name);
    assert.equal(s.metadata?.namespace, NS);
    assert.equal(s.metadata?.labels?.[LABEL_PROVIDER], 'p');
    assert.deepEqual(Object.keys(s.data ?? {}), ['keyId']);
    assert.equal(s.metadata?.annotations?.['rekey.dev/key-id-hash'], keyIdHash(full.keyId));
    // the KMS rotation note names the rotated key (here the same ARN) on purpose; nothing else does
    const { 'rekey.dev/kms-rotation': _, ...rest } = s.metadata?.annotations ?? {};
    assert.ok(!JSON.stringify(rest).includes(full.keyId), 'the key_id is not in an annotation');
  });
});

describe('revision codec: damaged records', () => {
  const good = () => revisionToSecret(rev({ number: 1 }), NS);
  const annotate = (s: V1Secret, key: string, value: string | undefined): V1Secret => {
    const annotations = { ...(s.metadata?.annotations ?? {}) };
    if (value === undefined) delete annotations[key];
    else annotations[key] = value;
    return { ...s, metadata: { ...s.metadata, annotations } };
  };

  const cases: [string, () => V1Secret, RegExp][] = [
    ['missing keyId', () => ({ ...good(), data: {} }), /keyId/],
    [
      'no data at all',
      () => {
        const s = good();
        delete s.data;
        return s;
      },
      /keyId/,
    ],
    [
      'missing name',
      () => {
        const s = good();
        const metadata = { ...s.metadata };
        delete metadata.name;
        return { ...s, metadata };
      },
      /name/,
    ],
    ['bad phase', () => annotate(good(), 'rekey.dev/phase', 'Running'), /phase/],
    ['missing phase', () => annotate(good(), 'rekey.dev/phase', undefined), /phase/],
    ['bad source', () => annotate(good(), 'rekey.dev/source', 'gossip'), /source/],
    ['bad number', () => annotate(good(), 'rekey.dev/number', 'three'), /number/],
    ['zero number', () => annotate(good(), 'rekey.dev/number', '0'), /number/],
    ['fractional number', () => annotate(good(), 'rekey.dev/number', '1.5'), /number/],
    ['missing provider', () => annotate(good(), 'rekey.dev/provider', undefined), /provider/],
  ];
  for (const [what, secret, message] of cases) {
    it(`reports ${what} as an error, naming the record`, () => {
      const r = secretToRevision(secret());
      assert.equal(r.ok, false);
      assert.ok(!r.ok);
      assert.match(r.error, message);
      if (what !== 'missing name') assert.match(r.error, /^encryption-key-p-1: /);
    });
  }

  it('drops an unparseable optional annotation instead of failing the record', () => {
    const s = annotate(good(), 'rekey.dev/verification', '{not json');
    const r = secretToRevision(s);
    assert.ok(r.ok);
    assert.equal(r.revision.verification, undefined);
  });

  it('drops a damaged retry schedule: the next Degraded step schedules one again', () => {
    const s = annotate(good(), 'rekey.dev/retry', '{"attempt":-1,"at":"soon"}');
    const r = secretToRevision(s);
    assert.ok(r.ok);
    assert.equal(r.revision.retry, undefined);
  });
});

describe('revision codec: provider label', () => {
  const providers: [string, string][] = [
    ['short', 'p'],
    ['64 characters', 'k'.repeat(64)],
    ['a dash at the cut', `${'a'.repeat(62)}-b`],
    ['a dot at the cut', `${'x'.repeat(62)}.y`],
    ['normalised (upper case, _)', 'AWS_KMS_'.repeat(10)],
    ['300 characters', 'k'.repeat(300)],
  ];
  for (const [what, provider] of providers) {
    it(`is a valid label value for a provider name: ${what}`, () => {
      const label = providerLabel(provider);
      assert.ok(label.length <= 63, `${label.length} characters`);
      assert.match(label, LABEL_VALUE);
      assert.ok(label.length > 0);
    });
  }

  it('labels the Secret validly and keeps the exact provider name in the round trip', () => {
    const provider = 'kms-provider-for-the-production-cluster-in-eu-west-1-with-a-long-name';
    assert.ok(provider.length > 63);
    const r = rev({ number: 1, provider });
    const s = revisionToSecret(r, NS);
    const label = s.metadata?.labels?.[LABEL_PROVIDER] ?? '';
    assert.ok(label.length <= 63);
    assert.match(label, LABEL_VALUE);
    assert.deepEqual(roundTrip(r), r);
  });
});
