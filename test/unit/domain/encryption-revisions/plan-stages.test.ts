// The switch planner: the stages of each supported switch, the operator's other entries and
// providers kept, aesgcm refused, local keys generated but never shown, and every plan safe for
// two apiservers on consecutive revisions.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { inspect } from 'node:util';
import {
  parseEncryptionDocument,
  providersFor,
  writeKey,
} from '../../../../shared/domain/encryption-revisions/document.ts';
import { planSwitch } from '../../../../shared/domain/encryption-revisions/plan-stages.ts';
import { ConfigRevision } from '../../../../shared/domain/encryption-revisions/revision.ts';
import {
  AESGCM_REFUSAL,
  parseSwitchTarget,
  SwitchTargetError,
} from '../../../../shared/domain/encryption-revisions/target.ts';
import {
  checkWriteReadSafety,
  rolloutMoments,
} from '../../../../shared/domain/encryption-revisions/write-read-safety.ts';

const header =
  'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n';
const kms = (name: string) =>
  `      - kms: {apiVersion: v2, name: ${name}, endpoint: "unix:///s/${name}.sock", timeout: 3s}\n`;
const OPERATOR_KEY = 'b3BlcmF0b3Igc2VjcmV0IG9wZXJhdG9yIHNlY3JldCE=';
const aescbc = `      - aescbc:\n          keys:\n            - name: key1\n              secret: ${OPERATOR_KEY}\n`;
const identity = '      - identity: {}\n';
const entry = (resources: string[], ...providers: string[]) =>
  `  - resources: [${resources.join(', ')}]\n    providers:\n${providers.join('')}`;
const found = (...entries: string[]) => new ConfigRevision(1, 'found', header + entries.join(''));

const writes = (rev: ConfigRevision, resource: string) => {
  const providers = providersFor(parseEncryptionDocument(rev.text()), resource) ?? [];
  return providers.map(writeKey);
};

function assertSafe(current: ConfigRevision, revisions: ConfigRevision[], resources: string[]) {
  const docs = [current, ...revisions].map((r) => ({
    number: r.number,
    doc: parseEncryptionDocument(r.text()),
  }));
  assert.deepEqual(checkWriteReadSafety(rolloutMoments(docs), resources), []);
}

const FIXED_KEY = 'Z2VuZXJhdGVkIGtleSBnZW5lcmF0ZWQga2V5IGdlbiE=';

describe('planSwitch', () => {
  it('identity -> kms: add as reader, make writer, drop identity', () => {
    const current = found(entry(['secrets'], identity));
    const plan = planSwitch({
      current,
      target: parseSwitchTarget('kms:kms-a'),
      resources: ['secrets'],
      kms: { endpoint: 'unix:///s/kms-a.sock', timeout: '3s' },
    });
    assert.equal(plan.from, 'identity');
    assert.equal(plan.to, 'kms:kms-a');
    assert.deepEqual(
      plan.revisions.map((r) => [r.number, r.stage, writes(r, 'secrets')]),
      [
        [2, 'add-read', ['identity', 'kms:kms-a']],
        [3, 'write', ['kms:kms-a', 'identity']],
        [4, 'remove-old', ['kms:kms-a']],
      ],
    );
    assertSafe(current, plan.revisions, ['secrets']);
  });

  it('kms -> kms keeps identity (read-only) and the other entries as written', () => {
    const current = found(
      entry(['secrets', 'configmaps'], kms('kms-a'), identity),
      entry(['deployments.apps'], aescbc, identity),
    );
    const plan = planSwitch({
      current,
      target: parseSwitchTarget('kms:kms-b'),
      resources: ['secrets', 'configmaps'],
      kms: { endpoint: 'unix:///s/kms-b.sock' },
    });
    assert.deepEqual(
      plan.revisions.map((r) => writes(r, 'configmaps')),
      [
        ['kms:kms-a', 'kms:kms-b', 'identity'],
        ['kms:kms-b', 'kms:kms-a', 'identity'],
        ['kms:kms-b', 'identity'],
      ],
    );
    for (const r of plan.revisions) {
      const doc = parseEncryptionDocument(r.text());
      assert.deepEqual(doc.resources[1], parseEncryptionDocument(current.text()).resources[1]);
    }
    assertSafe(current, plan.revisions, ['secrets', 'configmaps', 'deployments.apps']);
  });

  it('switching some resources of an entry splits them out; the rest keep their providers', () => {
    const current = found(entry(['secrets', 'configmaps'], aescbc, identity));
    const plan = planSwitch({
      current,
      target: { type: 'identity' },
      resources: ['secrets'],
    });
    // identity already reads: no add-read stage
    assert.deepEqual(
      plan.revisions.map((r) => [r.stage, writes(r, 'secrets'), writes(r, 'configmaps')]),
      [
        ['add-read', ['aescbc:key1', 'identity'], ['aescbc:key1', 'identity']],
        ['write', ['identity', 'aescbc:key1'], ['aescbc:key1', 'identity']],
        ['remove-old', ['identity'], ['aescbc:key1', 'identity']],
      ],
    );
    assertSafe(current, plan.revisions, ['secrets', 'configmaps']);
  });

  it('kms -> identity on its own entry needs no add-read stage', () => {
    const current = found(entry(['secrets'], kms('kms-a'), identity));
    const plan = planSwitch({ current, target: { type: 'identity' }, resources: ['secrets'] });
    assert.deepEqual(
      plan.revisions.map((r) => r.stage),
      ['write', 'remove-old'],
    );
    assert.deepEqual(
      plan.revisions.map((r) => r.number),
      [2, 3],
    );
    assertSafe(current, plan.revisions, ['secrets']);
  });

  it('a resource not listed starts from what covers it (here nothing: identity)', () => {
    const current = found(entry(['configmaps'], kms('kms-a')));
    const plan = planSwitch({
      current,
      target: parseSwitchTarget('kms:kms-b'),
      resources: ['secrets'],
      kms: { endpoint: 'unix:///s/kms-b.sock' },
    });
    assert.deepEqual(writes(plan.revisions.at(-1) as ConfigRevision, 'secrets'), ['kms:kms-b']);
    assert.deepEqual(writes(plan.revisions.at(-1) as ConfigRevision, 'configmaps'), ['kms:kms-a']);
    assertSafe(current, plan.revisions, ['secrets', 'configmaps']);
  });

  it('aescbc: a key is generated, named after the revision, and never shown', () => {
    const current = found(entry(['secrets'], kms('kms-a'), identity));
    const plan = planSwitch({
      current,
      target: parseSwitchTarget('aescbc'),
      resources: ['secrets'],
      generateKey: () => FIXED_KEY,
    });
    const last = plan.revisions.at(-1) as ConfigRevision;
    assert.deepEqual(writes(last, 'secrets'), ['aescbc:key-r2', 'identity']);
    assert.ok(last.text().includes(FIXED_KEY));
    for (const r of plan.revisions) {
      for (const shown of [
        JSON.stringify(r),
        inspect(r, { depth: 10, showHidden: true }),
        `${r}`,
        JSON.stringify(plan),
        inspect(plan, { depth: 10 }),
      ]) {
        assert.ok(!shown.includes(FIXED_KEY), `key material in ${shown.slice(0, 80)}`);
      }
    }
    assertSafe(current, plan.revisions, ['secrets']);
  });

  it('the default key generator makes a fresh 32-byte key per switch', () => {
    const current = found(entry(['secrets'], identity));
    const keyOf = () => {
      const doc = parseEncryptionDocument(
        planSwitch({
          current,
          target: { type: 'secretbox' },
          resources: ['secrets'],
        }).revisions[0]?.text() ?? '',
      );
      const p = doc.resources[0]?.providers[1] as { secretbox: { keys: { secret: string }[] } };
      return p.secretbox.keys[0]?.secret ?? '';
    };
    const a = keyOf();
    assert.equal(Buffer.from(a, 'base64').length, 32);
    assert.notEqual(a, keyOf());
  });

  it('refuses aesgcm with the reason, a target already writing, and unknown targets', () => {
    assert.throws(() => parseSwitchTarget('aesgcm'), {
      name: 'SwitchTargetError',
      message: AESGCM_REFUSAL,
    });
    assert.match(AESGCM_REFUSAL, /rotat/);
    assert.throws(() => parseSwitchTarget('kms:'), SwitchTargetError);
    assert.throws(() => parseSwitchTarget('rot13'), SwitchTargetError);
    const current = found(entry(['secrets'], kms('kms-a')));
    assert.throws(
      () => planSwitch({ current, target: { type: 'kms', name: 'kms-a' }, resources: ['secrets'] }),
      /already written with kms:kms-a/,
    );
    assert.throws(
      () => planSwitch({ current, target: { type: 'kms', name: 'kms-b' }, resources: ['secrets'] }),
      /endpoint/,
    );
  });

  it('refuses to list a kms provider in two entries (the apiserver would refuse the file)', () => {
    const shared = found(entry(['secrets', 'configmaps'], kms('kms-a'), identity));
    assert.throws(
      () => planSwitch({ current: shared, target: { type: 'identity' }, resources: ['secrets'] }),
      /kms:kms-a may be listed in one entry only.*--resources secrets,configmaps/,
    );
    const other = found(entry(['configmaps'], kms('kms-a')), entry(['secrets'], identity));
    assert.throws(
      () =>
        planSwitch({
          current: other,
          target: { type: 'kms', name: 'kms-a' },
          resources: ['secrets'],
        }),
      /kms:kms-a is already listed for other resources/,
    );
  });

  it('refuses resources that use different providers today', () => {
    const current = found(entry(['secrets'], kms('kms-a')), entry(['configmaps'], identity));
    assert.throws(
      () =>
        planSwitch({ current, target: { type: 'aescbc' }, resources: ['secrets', 'configmaps'] }),
      /different providers/,
    );
  });

  it('errors never quote the operator key material', () => {
    const current = new ConfigRevision(
      1,
      'found',
      `${header}${entry(['secrets'], aescbc)}  - resources: [secrets]\n    providers: [{identity: {}}]\n`,
    );
    try {
      planSwitch({ current, target: { type: 'identity' }, resources: ['secrets'] });
      assert.fail('expected a refusal');
    } catch (err) {
      assert.ok(!String((err as Error).message).includes(OPERATOR_KEY));
    }
  });
});

describe('checkWriteReadSafety', () => {
  it('a one-step switch breaks the rule: the new writer is unreadable by the old reader', () => {
    const before = parseEncryptionDocument(header + entry(['secrets'], kms('kms-a'), identity));
    const after = parseEncryptionDocument(header + entry(['secrets'], kms('kms-b'), identity));
    assert.deepEqual(
      checkWriteReadSafety([{ at: 't1', applied: { a: before, b: after } }], ['secrets']),
      [
        { at: 't1', resource: 'secrets', writer: 'a', writes: 'kms:kms-a', reader: 'b' },
        { at: 't1', resource: 'secrets', writer: 'b', writes: 'kms:kms-b', reader: 'a' },
      ],
    );
  });

  it('uncovered resources are identity on both sides', () => {
    const a = parseEncryptionDocument(header + entry(['secrets'], kms('kms-a')));
    assert.deepEqual(checkWriteReadSafety([{ at: 't', applied: { a, b: a } }], ['configmaps']), []);
  });
});
