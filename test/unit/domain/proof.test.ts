// The proof's rules on data alone: what counts as clean, and why a scan that read too little is
// never clean.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ProofScope, ProofTally, type ScannedValue } from '../../../shared/domain/proof.ts';

const P = 'sandbox-kms';
const scope: ProofScope[] = [
  { resource: 'secrets', storagePrefix: '/registry/secrets/', write: true },
  { resource: 'widgets.example.com', storagePrefix: '/registry/example.com/widgets/', write: true },
];
const kms = (key: string, keyID: string, provider = P): ScannedValue => ({
  key,
  kind: 'kms-v2',
  provider,
  keyID,
});
const counts = (entries: [string, number][]) => new Map(entries);

function judge(values: ScannedValue[], listed: Map<string, number>, s = scope) {
  const t = new ProofTally(s, { provider: P, currentKeyId: 'k2', etcdPrefix: '/registry' });
  for (const v of values) t.add(v);
  return t.result(listed);
}

describe('ProofTally', () => {
  it('is clean when every value in scope is under the current key and the counts match', () => {
    const r = judge(
      [
        kms('/registry/secrets/a/s1', 'k2'),
        kms('/registry/example.com/widgets/a/w1', 'k2'),
        { key: '/registry/namespaces/a', kind: 'identity' },
      ],
      counts([
        ['secrets', 1],
        ['widgets.example.com', 1],
      ]),
    );
    assert.equal(r.clean, true, JSON.stringify(r));
    assert.deepEqual(
      r.resources.map((x) => [x.resource, x.scanned, x.current, x.listed]),
      [
        ['secrets', 1, 1, 1],
        ['widgets.example.com', 1, 1, 1],
      ],
    );
    assert.equal(r.totalScanned, 3);
  });

  it('names values under an older key_id, another provider, or in plaintext', () => {
    const r = judge(
      [
        kms('/registry/secrets/a/old', 'k1'),
        kms('/registry/secrets/a/other', 'k9', 'another-kms'),
        { key: '/registry/secrets/a/plain', kind: 'identity' },
        { key: '/registry/secrets/a/aes', kind: 'aescbc', provider: 'key1' },
        kms('/registry/example.com/widgets/a/w1', 'k2'),
      ],
      counts([
        ['secrets', 4],
        ['widgets.example.com', 1],
      ]),
    );
    assert.equal(r.clean, false);
    const secrets = r.resources.find((x) => x.resource === 'secrets');
    assert.deepEqual(
      [secrets?.olderKeyIds, secrets?.otherProviders, secrets?.plaintext, secrets?.current],
      [1, 2, 1, 0],
    );
    assert.deepEqual(r.offenders.sort(), [
      'secrets/a/aes',
      'secrets/a/old',
      'secrets/a/other',
      'secrets/a/plain',
    ]);
  });

  it('counts a value of the provider under an older key_id outside the scope (an earlier configuration)', () => {
    const r = judge(
      [kms('/registry/secrets/a/s1', 'k2'), kms('/registry/configmaps/a/c1', 'k1')],
      counts([
        ['secrets', 1],
        ['widgets.example.com', 0],
      ]),
    );
    assert.equal(r.clean, false);
    assert.equal(r.strays, 1);
    assert.deepEqual(r.offenders, ['configmaps/a/c1']);
  });

  it('is never clean when the prefix holds nothing (a wrong --etcd-prefix)', () => {
    const r = judge([], counts([['secrets', 0]]), [scope[0] as ProofScope]);
    assert.equal(r.clean, false);
    assert.match(r.problems.join(), /holds no apiserver data/);
  });

  it('is never clean when a resource held fewer values than the API lists (a wrong storage path)', () => {
    const r = judge(
      [kms('/registry/secrets/a/s1', 'k2')],
      counts([
        ['secrets', 1],
        ['widgets.example.com', 3],
      ]),
    );
    assert.equal(r.clean, false);
    assert.equal(r.offenderCount, 0);
    assert.match(r.problems.join(), /widgets\.example\.com: the API lists 3 object\(s\) but/);
  });

  it('is never clean when the API could not count a resource', () => {
    const r = judge([kms('/registry/secrets/a/s1', 'k2')], counts([['secrets', 1]]));
    assert.equal(r.clean, false);
    assert.match(r.problems.join(), /could not count widgets\.example\.com/);
  });

  it('does not take services/endpoints for services/specs (longest prefix wins)', () => {
    const s: ProofScope[] = [
      { resource: 'services', storagePrefix: '/registry/services/specs/', write: true },
      { resource: 'endpoints', storagePrefix: '/registry/services/endpoints/', write: true },
    ];
    const r = judge(
      [kms('/registry/services/endpoints/a/e', 'k1'), kms('/registry/services/specs/a/s', 'k2')],
      counts([
        ['services', 1],
        ['endpoints', 1],
      ]),
      s,
    );
    assert.deepEqual(r.offenders, ['endpoints/a/e']);
  });

  it('where the provider only decrypts, any value still under it is an offender', () => {
    const s: ProofScope[] = [
      { resource: 'secrets', storagePrefix: '/registry/secrets/', write: false },
    ];
    const r = judge(
      [
        kms('/registry/secrets/a/s1', 'k2'),
        { key: '/registry/secrets/a/s2', kind: 'aescbc', provider: 'k' },
      ],
      counts([['secrets', 2]]),
      s,
    );
    assert.equal(r.clean, false);
    assert.deepEqual(r.offenders, ['secrets/a/s1']);
  });

  it('keeps at most 50 offender names and the full count', () => {
    const values = Array.from({ length: 70 }, (_, i) => kms(`/registry/secrets/a/s${i}`, 'k1'));
    const r = judge(values, counts([['secrets', 70]]), [scope[0] as ProofScope]);
    assert.equal(r.offenders.length, 50);
    assert.equal(r.offenderCount, 70);
  });
});
