// The EncryptionConfiguration summary rekey takes its scope from: parsing (YAML and JSON, what the
// apiserver would refuse), the apiserver's provider lookup order, kms coverage and scope, and that
// no key material survives into the summary.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import {
  EncryptionConfigError,
  type EncryptionConfigSummary,
  kmsCoverage,
  parseEncryptionConfig,
  providerForResource,
  scopeFor,
} from '../../../shared/domain/encryption-config.ts';
import { type GroupResource, parseGroupResource } from '../../../shared/domain/group-resource.ts';

const gr = (text: string): GroupResource => parseGroupResource(text);
const KEY_MATERIAL = 'c2VjcmV0IGlzIHNlY3JldCBpcyBzZWNyZXQgaXMgc2VjcmV0IQ==';

const header = 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\n';
const kms = (name: string) =>
  `      - kms: {apiVersion: v2, name: ${name}, endpoint: "unix:///s/${name}.sock", timeout: 3s}\n`;
const aescbc = `      - aescbc:\n          keys:\n            - name: key1\n              secret: ${KEY_MATERIAL}\n`;
const identity = '      - identity: {}\n';
const entry = (resources: string[], ...providers: string[]) =>
  `  - resources: [${resources.map((r) => `"${r}"`).join(', ')}]\n    providers:\n${providers.join('')}`;
const config = (...entries: string[]) => `${header}resources:\n${entries.join('')}`;

const kmsA = { type: 'kms', name: 'kms-a', apiVersion: 'v2' };
const kmsB = { type: 'kms', name: 'kms-b', apiVersion: 'v2' };
const kmsC = { type: 'kms', name: 'kms-c', apiVersion: 'v2' };
const kmsD = { type: 'kms', name: 'kms-d', apiVersion: 'v2' };
const secretbox = `      - secretbox: {keys: [{name: k, secret: ${KEY_MATERIAL}}]}\n`;

describe('parseEncryptionConfig', () => {
  it('summarizes entries in order and hashes the raw bytes', () => {
    const text = config(
      entry(['secrets', 'configmaps'], kms('kms-a'), identity),
      entry(['*.apps'], aescbc, kms('kms-b')),
    );
    const s = parseEncryptionConfig(text);
    assert.deepEqual(s.entries, [
      { resources: ['secrets', 'configmaps'], providers: [kmsA, { type: 'identity' }] },
      { resources: ['*.apps'], providers: [{ type: 'aescbc' }, kmsB] },
    ]);
    const hex = createHash('sha256').update(Buffer.from(text)).digest('hex');
    assert.equal(s.hash, `sha256:${hex}`);
    assert.equal(parseEncryptionConfig(Buffer.from(text)).hash, s.hash, 'bytes hash the same');
    assert.notEqual(parseEncryptionConfig(`${text}\n`).hash, s.hash, 'any byte changes the hash');
  });

  it('reads JSON too, and defaults a kms apiVersion to v1 as the apiserver does', () => {
    const json = JSON.stringify({
      apiVersion: 'apiserver.config.k8s.io/v1',
      kind: 'EncryptionConfiguration',
      resources: [
        { resources: ['secrets'], providers: [{ kms: { name: 'old' } }, { identity: {} }] },
      ],
    });
    assert.deepEqual(parseEncryptionConfig(json).entries[0]?.providers, [
      { type: 'kms', name: 'old', apiVersion: 'v1' },
      { type: 'identity' },
    ]);
  });

  it('keeps no secret material in the summary', () => {
    const s = parseEncryptionConfig(
      config(
        entry(['secrets'], aescbc, kms('kms-a')),
        entry(['configmaps'], aescbc.replace('aescbc', 'secretbox')),
      ),
    );
    const kept = JSON.stringify(s);
    assert.ok(!kept.includes(KEY_MATERIAL), 'no key secret');
    assert.ok(!kept.includes('key1'), 'not even key names');
    assert.ok(!kept.includes('unix://'), 'no endpoints');
  });

  const bad: Array<[string, string, RegExp]> = [
    ['bad YAML', `${header}resources: [\n  - {`, /not valid YAML or JSON at line \d+, column \d+/],
    ['an empty file', '', /empty or not a mapping/],
    [
      'the wrong kind',
      config(entry(['secrets'], identity)).replace('EncryptionConfiguration', 'Pod'),
      /got apiserver.config.k8s.io\/v1 Pod/,
    ],
    [
      'the wrong apiVersion',
      config(entry(['secrets'], identity)).replace('/v1', '/v2'),
      /expected apiVersion/,
    ],
    ['no entries', `${header}resources: []\n`, /at least one entry/],
    [
      'an entry without providers',
      `${header}resources:\n  - resources: [secrets]\n`,
      /providers: at least one/,
    ],
    [
      'a provider with two types',
      config(entry(['secrets'], '      - {identity: {}, aescbc: {keys: []}}\n')),
      /exactly one of/,
    ],
    [
      'a kms provider without name',
      config(entry(['secrets'], '      - kms: {apiVersion: v2}\n')),
      /kms.name is required/,
    ],
    ['a capital letter', config(entry(['Secrets'], identity)), /lower case/],
    ['a bare *', config(entry(['*'], identity)), /'\*\.'/],
    ['events.k8s.io', config(entry(['events.events.k8s.io'], identity)), /stored as 'events'/],
    ['the extensions group', config(entry(['ingresses.extensions'], identity)), /extensions/],
    ['resource.*', config(entry(['secrets.*'], identity)), /across groups/],
    [
      'a resource masked by an earlier *.',
      config(entry(['*.'], identity), entry(['secrets'], kms('kms-a'))),
      /"secrets" is masked by the earlier pattern "\*\."/,
    ],
    [
      'a resource masked by an earlier *.*',
      config(entry(['*.*'], identity), entry(['deployments.apps'], identity)),
      /masked by the earlier pattern "\*\.\*"/,
    ],
    [
      '*.* next to another resource in one entry',
      config(entry(['secrets', '*.*'], identity)),
      /wildcard next to a resource it covers/,
    ],
    [
      '*.apps next to an apps resource in one entry',
      config(entry(['deployments.apps', '*.apps'], identity)),
      /wildcard next to/,
    ],
    [
      'a duplicate in one entry',
      config(entry(['secrets', 'secrets'], identity)),
      /same resource twice/,
    ],
    [
      'a kms v2 name used twice',
      config(entry(['secrets'], kms('kms-a')), entry(['configmaps'], kms('kms-a'))),
      /"kms-a" is used twice/,
    ],
  ];
  for (const [what, text, message] of bad) {
    it(`throws EncryptionConfigError for ${what}`, () => {
      assert.throws(
        () => parseEncryptionConfig(text),
        (err: unknown) => {
          assert.ok(err instanceof EncryptionConfigError, String(err));
          assert.equal(err.name, 'EncryptionConfigError');
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('does not quote file content (which may hold keys) in its errors', () => {
    const text = `${header}resources:\n  - resources: [secrets]\n    providers:\n      - aescbc:\n          keys: [{name: k, secret: ${KEY_MATERIAL}}\n`;
    assert.throws(
      () => parseEncryptionConfig(text),
      (err: Error) => !err.message.includes(KEY_MATERIAL) && err instanceof EncryptionConfigError,
    );
  });

  it('accepts a specific resource before a wildcard (the specific one wins, nothing is masked)', () => {
    assert.doesNotThrow(() =>
      parseEncryptionConfig(config(entry(['secrets'], kms('kms-a')), entry(['*.*'], identity))),
    );
    assert.doesNotThrow(() =>
      parseEncryptionConfig(config(entry(['secrets', '*.apps', 'widgets.example.com'], identity))),
    );
  });
});

describe('providerForResource', () => {
  const s: EncryptionConfigSummary = parseEncryptionConfig(
    config(
      entry(['secrets'], kms('kms-a'), identity),
      entry(['deployments.apps'], kms('kms-b')),
      entry(['*.apps'], aescbc),
      entry(['secrets'], kms('kms-c')),
      entry(['events'], secretbox),
      entry(['*.'], identity, kms('kms-d')),
      entry(['*.*'], aescbc),
    ),
  );

  it('takes the exact resource.group first, appending entries that repeat it in order', () => {
    assert.deepEqual(providerForResource(s, gr('secrets')), [kmsA, { type: 'identity' }, kmsC]);
    assert.deepEqual(providerForResource(s, gr('deployments.apps')), [kmsB]);
  });

  it('then *.<group>, with *. for the core group', () => {
    assert.deepEqual(providerForResource(s, gr('daemonsets.apps')), [{ type: 'aescbc' }]);
    assert.deepEqual(providerForResource(s, gr('configmaps')), [{ type: 'identity' }, kmsD]);
  });

  it('then *.*', () => {
    assert.deepEqual(providerForResource(s, gr('widgets.example.com')), [{ type: 'aescbc' }]);
  });

  it('resolves events.k8s.io events through core events, whose storage they share', () => {
    assert.deepEqual(providerForResource(s, gr('events.events.k8s.io')), [{ type: 'secretbox' }]);
  });

  it('is identity when nothing matches', () => {
    const only = parseEncryptionConfig(config(entry(['secrets'], kms('kms-a'))));
    assert.deepEqual(providerForResource(only, gr('configmaps')), [{ type: 'identity' }]);
    assert.deepEqual(providerForResource(only, gr('secrets.example.com')), [{ type: 'identity' }]);
  });
});

describe('kmsCoverage', () => {
  it('lists the entry naming the provider, patterns as written, write when it is first', () => {
    const s = parseEncryptionConfig(
      config(
        entry(['secrets', 'configmaps'], kms('kms-a'), identity),
        entry(['*.apps'], identity, kms('kms-b')),
        entry(['*.*'], kms('kms-c')),
      ),
    );
    assert.deepEqual(kmsCoverage(s, 'kms-a'), [
      { resources: ['secrets', 'configmaps'], write: true },
    ]);
    assert.deepEqual(kmsCoverage(s, 'kms-b'), [{ resources: ['*.apps'], write: false }]);
    assert.deepEqual(kmsCoverage(s, 'kms-c'), [{ resources: ['*.*'], write: true }]);
    assert.deepEqual(kmsCoverage(s, 'nope'), []);
  });

  it('gives one item per entry when a (KMS v1) provider appears in several', () => {
    const v1 = (where: string) => `      - kms: {name: legacy, endpoint: "unix:///${where}"}\n`;
    const s = parseEncryptionConfig(
      config(entry(['secrets'], v1('a'), identity), entry(['configmaps'], identity, v1('b'))),
    );
    assert.deepEqual(kmsCoverage(s, 'legacy'), [
      { resources: ['secrets'], write: true },
      { resources: ['configmaps'], write: false },
    ]);
  });
});

describe('scopeFor', () => {
  const served = [
    'secrets',
    'configmaps',
    'events',
    'events.events.k8s.io',
    'deployments.apps',
    'statefulsets.apps',
    'widgets.example.com',
  ].map(gr);

  it('resolves wildcards against the served resources', () => {
    const s = parseEncryptionConfig(config(entry(['secrets', '*.apps'], kms('kms-a'), identity)));
    assert.deepEqual(scopeFor(s, 'kms-a', served), [
      { resource: gr('secrets'), write: true },
      { resource: gr('deployments.apps'), write: true },
      { resource: gr('statefulsets.apps'), write: true },
    ]);
  });

  it('marks a provider listed after identity (or another) as read-only', () => {
    const s = parseEncryptionConfig(
      config(entry(['secrets'], identity, kms('kms-a')), entry(['*.*'], kms('kms-b'), identity)),
    );
    assert.deepEqual(scopeFor(s, 'kms-a', served), [{ resource: gr('secrets'), write: false }]);
    assert.deepEqual(
      scopeFor(s, 'kms-b', served).map((r) => [r.resource.resource, r.write]),
      [
        ['configmaps', true],
        ['events', true],
        ['deployments', true],
        ['statefulsets', true],
        ['widgets', true],
      ],
      'secrets is matched exactly so *.* does not apply; events.k8s.io events go with events',
    );
  });

  it('is empty for a provider the configuration does not name', () => {
    const s = parseEncryptionConfig(config(entry(['*.*'], kms('kms-a'))));
    assert.deepEqual(scopeFor(s, 'kms-z', served), []);
  });

  it('keeps events.k8s.io events when core events are not served', () => {
    const s = parseEncryptionConfig(config(entry(['events'], kms('kms-a'))));
    assert.deepEqual(scopeFor(s, 'kms-a', [gr('events.events.k8s.io')]), [
      { resource: gr('events.events.k8s.io'), write: true },
    ]);
  });
});
