import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EncryptionConfigEntry } from '../../../shared/domain/encryption-config.ts';
import {
  decideFollowedProvider,
  kmsWriteProviders,
} from '../../../shared/domain/followed-provider.ts';

const kms = (name: string) => ({ type: 'kms' as const, name, apiVersion: 'v2' });
const identity = { type: 'identity' as const };
const aescbc = { type: 'aescbc' as const };
const entry = (...providers: EncryptionConfigEntry['providers']): EncryptionConfigEntry => ({
  resources: ['secrets'],
  providers,
});

describe('decideFollowedProvider', () => {
  it('follows the kms write provider every node names', () => {
    const d = decideFollowedProvider({
      readings: [
        { node: 'a', entries: [entry(kms('kms-b'), kms('kms-a'))] },
        { node: 'b', entries: [entry(kms('kms-b'), kms('kms-a'))] },
      ],
    });
    assert.deepEqual(d, { kind: 'follow', provider: 'kms-b', source: 'reports' });
  });

  it('counts a node once, whichever of its reporters (one per plugin) sent the reading', () => {
    const file = [entry(kms('kms-b'), identity)];
    const d = decideFollowedProvider({
      readings: [
        { node: 'a', entries: file },
        { node: 'a', entries: file },
      ],
    });
    assert.deepEqual(d, { kind: 'follow', provider: 'kms-b', source: 'reports' });
  });

  it('a pinned provider wins over whatever the reports say', () => {
    const d = decideFollowedProvider({
      pinned: 'kms-a',
      readings: [{ node: 'a', entries: [entry(kms('kms-b'))] }],
    });
    assert.deepEqual(d, { kind: 'follow', provider: 'kms-a', source: 'pinned' });
  });

  it('waits, naming the nodes, while they name different write providers (a switch rolling out)', () => {
    const d = decideFollowedProvider({
      readings: [
        { node: 'cp-1', entries: [entry(kms('kms-b'), kms('kms-a'))] },
        { node: 'cp-2', entries: [entry(kms('kms-a'), kms('kms-b'))] },
      ],
    });
    assert.ok(d.kind === 'wait', JSON.stringify(d));
    assert.match(d.reason, /cp-1: kms-b; cp-2: kms-a/);
    assert.match(d.reason, /REKEY_PROVIDER/);
  });

  it('waits when one node writes with kms and another not yet', () => {
    const d = decideFollowedProvider({
      readings: [
        { node: 'cp-1', entries: [entry(kms('kms-a'), identity)] },
        { node: 'cp-2', entries: [entry(identity, kms('kms-a'))] },
      ],
    });
    assert.ok(d.kind === 'wait', JSON.stringify(d));
    assert.match(d.reason, /cp-2: no kms/);
  });

  it('waits while no fresh report names a configuration', () => {
    for (const readings of [[], [{ node: 'a' }]]) {
      const d = decideFollowedProvider({ readings });
      assert.ok(d.kind === 'wait', JSON.stringify(d));
      assert.match(d.reason, /no fresh key-id report/);
    }
  });

  it('is unresolved when no kms provider writes, or several do', () => {
    const none = decideFollowedProvider({
      readings: [{ node: 'a', entries: [entry(aescbc, kms('kms-a'))] }],
    });
    assert.ok(none.kind === 'unresolved', JSON.stringify(none));
    assert.match(none.reason, /no kms provider writes/);
    const several = decideFollowedProvider({
      readings: [
        {
          node: 'a',
          entries: [entry(kms('kms-a')), { resources: ['configmaps'], providers: [kms('kms-b')] }],
        },
      ],
    });
    assert.ok(several.kind === 'unresolved', JSON.stringify(several));
    assert.match(several.reason, /several kms providers write \(kms-a, kms-b/);
  });
});

describe('kmsWriteProviders', () => {
  it('names the kms providers first in an entry, not those that only read', () => {
    assert.deepEqual(
      kmsWriteProviders([
        entry(kms('w'), kms('r')),
        { resources: ['configmaps'], providers: [identity, kms('r2')] },
      ]),
      ['w'],
    );
  });
});
